#!/usr/bin/env bash
# End to end on LeNet-5 / Fashion-MNIST: train, compress (unstructured, channels, int8), compile
# each variant into a packed program, report accuracy and file size, then time every program
# in ONE `winnow bench` run (ratios against the dense program measured in the same process).
# Usage: Benchmarks/EndToEnd/lenet_e2e.sh [work-dir]   (needs `winnow` on PATH or W=path)
set -euo pipefail
W=${W:-winnow}
mkdir -p "${1:-e2e}" && cd "${1:-e2e}"
D="--data fashion-mnist --threads 1"
[ -f lenet.ckpt ] || $W train --model lenet5 $D --epochs 5 --batch-size 128 --lr 0.05 --checkpoint lenet.ckpt
[ -f lenet-90.ckpt ] || $W prune lenet.ckpt $D --method gradual --global --sparsity 0.9 --finetune-epochs 3 --output lenet-90.ckpt
[ -f lenet-ch50.ckpt ] || $W prune lenet.ckpt $D --method channels --ratio 0.5 --finetune-epochs 3 --lr 0.01 --output lenet-ch50.ckpt
[ -f lenet-ch50-s80.ckpt ] || $W prune lenet-ch50.ckpt $D --method gradual --global --sparsity 0.8 --finetune-epochs 3 --output lenet-ch50-s80.ckpt
variants=()
build() {  # name checkpoint compile-options...
  local name=$1 ckpt=$2; shift 2
  $W compile "$ckpt" --output "$name.winnow" --threads 1 "$@" > "$name.compile.log"
  acc=$($W eval "$name.winnow" --data fashion-mnist --threads 1 | sed -E 's/.*accuracy ([0-9.]+)%.*/\1/')
  formats=$(grep -E "^(conv|fc)" "$name.compile.log" | awk '{print $1"="$4}' | tr '\n' ' ')
  echo "| $name | $acc | $(stat -c %s "$name.winnow") | $formats |"
  variants+=("$name.winnow")
}
echo "| variant | accuracy % | file bytes | formats |"
build dense lenet.ckpt --format dense
build sparse90 lenet-90.ckpt --format auto --tune-batch 64
build sparse90-int8fc lenet-90.ckpt --format auto --tune-batch 64 --quantize int8-channel --layer conv1=dense --layer conv2=dense
build sparse90-int8-smallest lenet-90.ckpt --format smallest --quantize int8-channel
build channels50 lenet-ch50.ckpt --format dense
build channels50-sparse80 lenet-ch50-s80.ckpt --format auto --tune-batch 64
build channels50-sparse80-int8fc lenet-ch50-s80.ckpt --format auto --tune-batch 64 --quantize int8-channel --layer conv1=dense --layer conv2=dense
$W bench "${variants[@]}" --batch 1 --batch 64 --threads 1 --repetitions 100 > bench.log
tail -n $(( ${#variants[@]} + 1 )) bench.log
