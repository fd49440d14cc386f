#!/usr/bin/env bash
# Why does kiln bf16 on the lent AMX machine switch between two speeds? Times ResNet-50 bf16
# iteration by iteration under a few settings; writes OUT/diag_*.json and OUT/diag.txt.
#   bash benchmarks/device_amx_diag.sh $OUT
set -u
OUT=$1; W=/tmp/kiln_amx_diag; mkdir -p $W
K=$PWD/.device/bin/kiln; L=$PWD/.device/lib
{
uname -r; whoami; cat /sys/kernel/mm/transparent_hugepage/enabled /sys/kernel/mm/transparent_hugepage/defrag 2>&1
grep -o 'amx[a-z0-9_]*' /proc/cpuinfo | sort | uniq -c
cat /proc/loadavg; grep MHz /proc/cpuinfo | head -4
} > $OUT/diag.txt 2>&1
python3 -c "
import torch, torchvision
torch.manual_seed(0)
torch.onnx.export(torchvision.models.resnet50().eval(), (torch.randn(1,3,224,224),), '$W/r50.onnx', opset_version=17, dynamo=False)" 2>/dev/null
export LD_LIBRARY_PATH=$L
$K compile $W/r50.onnx -o $W/bf16.plan --bf16 --threads=2 >> $OUT/diag.txt 2>&1
run() { tag=$1; shift; "$@" $K run --loadEngine=$W/bf16.plan --iterations=300 --warmUp=300 --exportTimes=$OUT/diag_$tag.json --json > $OUT/diag_$tag.out 2>/dev/null; echo "$tag $(python3 -c "import json;d=json.load(open('$OUT/diag_$tag.out'))['latency_ms'];print(round(d['median'],2),round(d['min'],2),round(d['max'],2))")" >> $OUT/diag.txt; }
run t2_pin23 taskset -c 2,3 env OMP_NUM_THREADS=2
run t2_pin23_active taskset -c 2,3 env OMP_NUM_THREADS=2 OMP_WAIT_POLICY=active
run t2_pin23_passive taskset -c 2,3 env OMP_NUM_THREADS=2 OMP_WAIT_POLICY=passive
run t1_pin2 taskset -c 2 env OMP_NUM_THREADS=1
run t2_nopin env OMP_NUM_THREADS=2
run t2_pin23_again taskset -c 2,3 env OMP_NUM_THREADS=2
ONEDNN_VERBOSE=1 taskset -c 2,3 $K run --loadEngine=$W/bf16.plan --iterations=3 --warmUp=0 --threads=2 2>&1 | grep '^onednn_verbose,exec' | awk -F, '{print $4","$5","$6}' | sort | uniq -c | sort -rn | head -20 >> $OUT/diag.txt
