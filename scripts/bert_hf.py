"""BERT-base written the way Hugging Face's transformers BertModel is written (no transformers here).

`bert_hf` in scripts/export_models.py. The point is the ONNX graph torch.onnx.export makes from
HF's code pattern, so the importer, passes and kernels see what users' exported BERTs look like:

- inputs `input_ids` and `attention_mask`, both int64 [batch, seq]; `token_type_ids` is not a
  graph input: like HF, it is sliced from a registered all-zeros buffer and expanded to the batch;
- position ids sliced from a registered `torch.arange` buffer, `self.position_ids[:, :seq_length]`;
- word + token-type + position embeddings (Gather), LayerNorm(eps 1e-12);
- the extended attention mask `(1.0 - mask[:, None, None, :].float()) * torch.finfo(float32).min`;
- self-attention with `x.view(b, s, heads, dim).permute(0, 2, 1, 3)` for Q, K, V, scores
  `Q K^T / sqrt(dim) + mask`, Softmax, `P V`, `permute(0, 2, 1, 3).contiguous().view(b, s, hidden)`;
- dense + residual + LayerNorm, intermediate dense + GELU (erf), dense + residual + LayerNorm;
- the pooler: tanh(dense(first token)).

Outputs `last_hidden_state` [batch, seq, 768] and `pooler_output` [batch, 768]. Sizes are
BERT-base's: 12 layers, hidden 768, 12 heads, intermediate 3072, vocab 30522, 512 positions,
2 token types.

Weights: HF's initialisation (normal(0, 0.02) for Linear and Embedding weights, the padding row
zeroed), except that biases and LayerNorm affines, which HF initialises to 0 and 1, get small random
values too (biases N(0, 0.02), LayerNorm gamma 1 + N(0, 0.1), beta N(0, 0.1)): with HF's values a
dropped or misplaced bias or affine would go unnoticed by the oracle. The caller seeds torch.

The test input: random token ids in [1000, vocab) for the first seq - 16 positions, then 16
padding positions (token 0, attention_mask 0), so the mask really masks.
"""
import math

import torch

VOCAB, HIDDEN, LAYERS, HEADS, INTERMEDIATE = 30522, 768, 12, 12, 3072
MAX_POSITIONS, TYPE_VOCAB, PAD_TOKEN, LN_EPS = 512, 2, 0, 1e-12
SEQ, PAD_POSITIONS = 128, 16

INPUT_NAMES = ["input_ids", "attention_mask"]
OUTPUT_NAMES = ["last_hidden_state", "pooler_output"]


class BertEmbeddings(torch.nn.Module):
  def __init__(self):
    super().__init__()
    self.word_embeddings = torch.nn.Embedding(VOCAB, HIDDEN, padding_idx=PAD_TOKEN)
    self.position_embeddings = torch.nn.Embedding(MAX_POSITIONS, HIDDEN)
    self.token_type_embeddings = torch.nn.Embedding(TYPE_VOCAB, HIDDEN)
    self.LayerNorm = torch.nn.LayerNorm(HIDDEN, eps=LN_EPS)
    self.dropout = torch.nn.Dropout(0.1)
    self.register_buffer("position_ids", torch.arange(MAX_POSITIONS).expand((1, -1)),
                         persistent=False)
    self.register_buffer("token_type_ids", torch.zeros(self.position_ids.size(), dtype=torch.long),
                         persistent=False)

  def forward(self, input_ids, token_type_ids=None):
    input_shape = input_ids.size()
    seq_length = input_shape[1]
    position_ids = self.position_ids[:, :seq_length]
    if token_type_ids is None:
      buffered_token_type_ids = self.token_type_ids[:, :seq_length]
      token_type_ids = buffered_token_type_ids.expand(input_shape[0], seq_length)
    inputs_embeds = self.word_embeddings(input_ids)
    token_type_embeddings = self.token_type_embeddings(token_type_ids)
    embeddings = inputs_embeds + token_type_embeddings
    position_embeddings = self.position_embeddings(position_ids)
    embeddings += position_embeddings
    embeddings = self.LayerNorm(embeddings)
    return self.dropout(embeddings)


class BertSelfAttention(torch.nn.Module):
  def __init__(self):
    super().__init__()
    self.num_attention_heads = HEADS
    self.attention_head_size = HIDDEN // HEADS
    self.all_head_size = HIDDEN
    self.query = torch.nn.Linear(HIDDEN, self.all_head_size)
    self.key = torch.nn.Linear(HIDDEN, self.all_head_size)
    self.value = torch.nn.Linear(HIDDEN, self.all_head_size)
    self.dropout = torch.nn.Dropout(0.1)

  def transpose_for_scores(self, x):
    x = x.view(x.size(0), x.size(1), self.num_attention_heads, self.attention_head_size)
    return x.permute(0, 2, 1, 3)

  def forward(self, hidden_states, attention_mask):
    query_layer = self.transpose_for_scores(self.query(hidden_states))
    key_layer = self.transpose_for_scores(self.key(hidden_states))
    value_layer = self.transpose_for_scores(self.value(hidden_states))
    attention_scores = torch.matmul(query_layer, key_layer.transpose(-1, -2))
    attention_scores = attention_scores / math.sqrt(self.attention_head_size)
    attention_scores = attention_scores + attention_mask
    attention_probs = torch.nn.functional.softmax(attention_scores, dim=-1)
    attention_probs = self.dropout(attention_probs)
    context_layer = torch.matmul(attention_probs, value_layer)
    context_layer = context_layer.permute(0, 2, 1, 3).contiguous()
    new_context_layer_shape = context_layer.size()[:-2] + (self.all_head_size,)
    return context_layer.view(new_context_layer_shape)


class BertSelfOutput(torch.nn.Module):
  def __init__(self):
    super().__init__()
    self.dense = torch.nn.Linear(HIDDEN, HIDDEN)
    self.LayerNorm = torch.nn.LayerNorm(HIDDEN, eps=LN_EPS)
    self.dropout = torch.nn.Dropout(0.1)

  def forward(self, hidden_states, input_tensor):
    hidden_states = self.dropout(self.dense(hidden_states))
    return self.LayerNorm(hidden_states + input_tensor)


class BertAttention(torch.nn.Module):
  def __init__(self):
    super().__init__()
    self.self = BertSelfAttention()
    self.output = BertSelfOutput()

  def forward(self, hidden_states, attention_mask):
    return self.output(self.self(hidden_states, attention_mask), hidden_states)


class BertIntermediate(torch.nn.Module):
  def __init__(self):
    super().__init__()
    self.dense = torch.nn.Linear(HIDDEN, INTERMEDIATE)

  def forward(self, hidden_states):
    return torch.nn.functional.gelu(self.dense(hidden_states))  # HF "gelu": the erf form


class BertOutput(torch.nn.Module):
  def __init__(self):
    super().__init__()
    self.dense = torch.nn.Linear(INTERMEDIATE, HIDDEN)
    self.LayerNorm = torch.nn.LayerNorm(HIDDEN, eps=LN_EPS)
    self.dropout = torch.nn.Dropout(0.1)

  def forward(self, hidden_states, input_tensor):
    hidden_states = self.dropout(self.dense(hidden_states))
    return self.LayerNorm(hidden_states + input_tensor)


class BertLayer(torch.nn.Module):
  def __init__(self):
    super().__init__()
    self.attention = BertAttention()
    self.intermediate = BertIntermediate()
    self.output = BertOutput()

  def forward(self, hidden_states, attention_mask):
    attention_output = self.attention(hidden_states, attention_mask)
    return self.output(self.intermediate(attention_output), attention_output)


class BertEncoder(torch.nn.Module):
  def __init__(self):
    super().__init__()
    self.layer = torch.nn.ModuleList([BertLayer() for _ in range(LAYERS)])

  def forward(self, hidden_states, attention_mask):
    for layer_module in self.layer:
      hidden_states = layer_module(hidden_states, attention_mask)
    return hidden_states


class BertPooler(torch.nn.Module):
  def __init__(self):
    super().__init__()
    self.dense = torch.nn.Linear(HIDDEN, HIDDEN)
    self.activation = torch.nn.Tanh()

  def forward(self, hidden_states):
    return self.activation(self.dense(hidden_states[:, 0]))


class BertModel(torch.nn.Module):
  def __init__(self):
    super().__init__()
    self.embeddings = BertEmbeddings()
    self.encoder = BertEncoder()
    self.pooler = BertPooler()
    with torch.no_grad():
      for m in self.modules():
        if isinstance(m, torch.nn.Linear):
          m.weight.normal_(0.0, 0.02)
          m.bias.normal_(0.0, 0.02)
        elif isinstance(m, torch.nn.Embedding):
          m.weight.normal_(0.0, 0.02)
          if m.padding_idx is not None:
            m.weight[m.padding_idx].zero_()
        elif isinstance(m, torch.nn.LayerNorm):
          m.weight.copy_(1.0 + 0.1 * torch.randn_like(m.weight))
          m.bias.normal_(0.0, 0.1)

  def get_extended_attention_mask(self, attention_mask, dtype=torch.float32):
    extended_attention_mask = attention_mask[:, None, None, :]
    extended_attention_mask = extended_attention_mask.to(dtype=dtype)
    return (1.0 - extended_attention_mask) * torch.finfo(dtype).min

  def forward(self, input_ids, attention_mask, token_type_ids=None):
    extended_attention_mask = self.get_extended_attention_mask(attention_mask)
    embedding_output = self.embeddings(input_ids=input_ids, token_type_ids=token_type_ids)
    sequence_output = self.encoder(embedding_output, extended_attention_mask)
    pooled_output = self.pooler(sequence_output)
    return sequence_output, pooled_output


def example_inputs(batch):
  """(input_ids, attention_mask): random tokens, the last PAD_POSITIONS positions padding."""
  ids = torch.randint(1000, VOCAB, (batch, SEQ), dtype=torch.long)
  mask = torch.ones(batch, SEQ, dtype=torch.long)
  ids[:, SEQ - PAD_POSITIONS:] = PAD_TOKEN
  mask[:, SEQ - PAD_POSITIONS:] = 0
  return ids, mask
