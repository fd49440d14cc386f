// Pre-packed constants (plan schema v7): oneDNN memory descriptors as plan integers and back, and
// the one place a kernel turns a constant into the weights layout its primitive wants -- in place
// when the plan already holds them so, by a reorder otherwise.
#include <cstring>

#include "kernels/kernel.h"

namespace kiln::dnn {

namespace {

// Bumped if the key's fields change; a plan with another version repacks (its keys never match).
constexpr int64_t kKeyVersion = 1;

int64_t dtype_size_of(dnnl_data_type_t t) {
  switch (t) {
    case dnnl_f32: return 4;
    case dnnl_bf16: return 2;
    case dnnl_s8:
    case dnnl_u8: return 1;
    default: return 0;
  }
}

}  // namespace

std::optional<std::vector<int64_t>> desc_key(const dnnl::memory::desc& md) {
  const dnnl_memory_desc_t& d = md.data;
  const bool blocked = d.format_kind == dnnl_blocked, wino = d.format_kind == dnnl_format_kind_wino;
  if (!(blocked || wino) || d.extra.flags != 0 || d.offset0 != 0 || dtype_size_of(d.data_type) == 0)
    return std::nullopt;
  std::vector<int64_t> k{kKeyVersion, blocked ? 0 : 1, d.ndims, static_cast<int64_t>(d.data_type)};
  for (int i = 0; i < d.ndims; ++i) {
    if (d.padded_offsets[i] != 0) return std::nullopt;
    k.insert(k.end(), {d.dims[i], d.padded_dims[i]});
  }
  if (wino) {
    const dnnl_wino_desc_t& w = d.format_desc.wino_desc;
    uint32_t scale = 0;
    std::memcpy(&scale, &w.adj_scale, 4);
    k.insert(k.end(), {w.wino_format, w.r, w.alpha, w.ic, w.oc, w.ic_block, w.oc_block, w.ic2_block, w.oc2_block,
                       scale, static_cast<int64_t>(w.size)});
    return k;
  }
  const auto& b = d.format_desc.blocking;
  for (int i = 0; i < d.ndims; ++i) k.push_back(b.strides[i]);
  k.push_back(b.inner_nblks);
  for (int i = 0; i < b.inner_nblks; ++i) k.insert(k.end(), {b.inner_blks[i], b.inner_idxs[i]});
  return k;
}

bool desc_blocked(const dnnl::memory::desc& md) { return md.data.format_kind == dnnl_blocked; }

std::optional<dnnl::memory::desc> desc_from_key(std::span<const int64_t> key, DType t, int64_t elements,
                                                size_t bytes) {
  constexpr int64_t kMaxDim = int64_t(1) << 40;
  size_t at = 0;
  auto next = [&](int64_t lo, int64_t hi, int64_t& v) {
    if (at >= key.size() || key[at] < lo || key[at] > hi) return false;
    v = key[at++];
    return true;
  };
  int64_t version = 0, kind = 0, nd = 0, dt = 0;
  if (!next(kKeyVersion, kKeyVersion, version) || !next(0, 1, kind) || !next(1, DNNL_MAX_NDIMS, nd) ||
      !next(0, 1 << 16, dt))
    return std::nullopt;
  // Only values the enums hold are cast to them (UBSan, rightly, calls anything else undefined).
  if (dt != dnnl_f32 && dt != dnnl_bf16 && dt != dnnl_s8 && dt != dnnl_u8) return std::nullopt;
  dnnl_memory_desc_t d;
  std::memset(&d, 0, sizeof d);
  d.ndims = static_cast<int>(nd);
  d.data_type = static_cast<dnnl_data_type_t>(dt);
  const int64_t esize = dtype_size_of(d.data_type);
  try {
    if (dnn::dtype(t) != static_cast<dnnl::memory::data_type>(d.data_type)) return std::nullopt;
  } catch (const std::exception&) {
    return std::nullopt;
  }
  int64_t count = 1;
  for (int i = 0; i < nd; ++i) {
    if (!next(1, kMaxDim, d.dims[i]) || !next(d.dims[i], kMaxDim, d.padded_dims[i])) return std::nullopt;
    if (__builtin_mul_overflow(count, d.dims[i], &count) || count > kMaxDim) return std::nullopt;
  }
  if (count != elements) return std::nullopt;
  if (kind == 1) {
    // Winograd: oneDNN's kernels address it from these fields, which the runtime only ever
    // matches against its own primitive's (a plan never has it read back): bound the size.
    d.format_kind = dnnl_format_kind_wino;
    auto& w = d.format_desc.wino_desc;
    int64_t f[11];
    if (!next(dnnl_wino_undef, dnnl_wino_wei_OBaaIBOIio, f[0])) return std::nullopt;
    for (int i = 1; i < 9; ++i)
      if (!next(0, 1 << 20, f[i])) return std::nullopt;
    if (!next(0, UINT32_MAX, f[9]) || !next(1, static_cast<int64_t>(bytes), f[10]) || at != key.size())
      return std::nullopt;
    w.wino_format = static_cast<dnnl_wino_memory_format_t>(f[0]);
    int* ints[8] = {&w.r, &w.alpha, &w.ic, &w.oc, &w.ic_block, &w.oc_block, &w.ic2_block, &w.oc2_block};
    for (int i = 0; i < 8; ++i) *ints[i] = static_cast<int>(f[i + 1]);
    const uint32_t scale = static_cast<uint32_t>(f[9]);
    std::memcpy(&w.adj_scale, &scale, 4);
    w.size = static_cast<size_t>(f[10]);
    return dnnl::memory::desc(d);
  }
  d.format_kind = dnnl_blocked;
  auto& b = d.format_desc.blocking;
  for (int i = 0; i < nd; ++i)
    if (!next(0, kMaxDim, b.strides[i])) return std::nullopt;
  int64_t nblks = 0;
  if (!next(0, DNNL_MAX_NDIMS, nblks)) return std::nullopt;
  b.inner_nblks = static_cast<int>(nblks);
  int64_t block[DNNL_MAX_NDIMS], inner = 1;
  for (int i = 0; i < nd; ++i) block[i] = 1;
  for (int i = 0; i < nblks; ++i) {
    if (!next(2, 1 << 12, b.inner_blks[i]) || !next(0, nd - 1, b.inner_idxs[i])) return std::nullopt;
    block[b.inner_idxs[i]] *= b.inner_blks[i];
    inner *= b.inner_blks[i];
    if (block[b.inner_idxs[i]] > (1 << 12) || inner > (1 << 16)) return std::nullopt;
  }
  if (at != key.size()) return std::nullopt;
  // The furthest element oneDNN addresses: every outer index at its last block, plus the last
  // element of the innermost (dense) block. It must lie inside the bytes the plan stores.
  int64_t last = inner - 1;
  for (int i = 0; i < nd; ++i) {
    if (d.padded_dims[i] % block[i]) return std::nullopt;
    const int64_t outer = d.padded_dims[i] / block[i];
    int64_t step = 0;
    if (__builtin_mul_overflow(outer - 1, b.strides[i], &step) || __builtin_add_overflow(last, step, &last))
      return std::nullopt;
  }
  int64_t need = 0;
  if (__builtin_mul_overflow(last + 1, esize, &need) || static_cast<uint64_t>(need) > bytes) return std::nullopt;
  dnnl::memory::desc md(d);
  if (md.get_size() > bytes) return std::nullopt;
  return md;
}

dnnl::memory weights_memory(const dnnl::engine& eng, const KernelTensor& w, const dnnl::memory::desc& user,
                            const dnnl::memory::desc& want) {
  if (w.packed && w.packed->layout == want)  // read-only: no oneDNN primitive writes its weights
    return dnnl::memory(want, eng, const_cast<void*>(w.packed->data));
  dnnl::memory dst(want, eng);
  dnnl::stream st(eng);
  if (!w.packed || w.packed->plain_data) {  // the row-major constant (or the plan's copy of it)
    dnnl::memory src(user, eng, const_cast<void*>(w.packed ? w.packed->plain_data : w.const_data));
    dnnl::reorder(src, dst).execute(st, src, dst);
  } else {
    // Packed for another CPU's kernel: straight into this one's layout where oneDNN has such a
    // reorder, else back through the row-major constant.
    dnnl::memory src(w.packed->layout, eng, const_cast<void*>(w.packed->data));
    try {
      dnnl::reorder(src, dst).execute(st, src, dst);
    } catch (const dnnl::error&) {
      dnnl::memory plain(w.packed->plain, eng);
      dnnl::reorder(src, plain).execute(st, src, plain);
      dnnl::memory as_user(user, eng, plain.get_data_handle());
      dnnl::reorder(as_user, dst).execute(st, as_user, dst);
    }
  }
  st.wait();
  return dst;
}

}  // namespace kiln::dnn
