#!/usr/bin/env bash
# Runs the host CLI's bad-input cases of docs/robustness.md against one cnnfpga binary, in a
# temporary copy of data/sample and the shipped models (nothing in the repo is touched), and
# prints per case: name | exit status | first line of stderr (plus what happened to the files).
# Usage: scripts/robustness_cases.sh path/to/cnnfpga
set -u
B=$(realpath "$1")
R=$(cd "$(dirname "$0")/.." && pwd)
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
cd "$W"
fresh() { rm -rf data fm q mlp; cp -r "$R/data/sample" data; cp -r "$R/models/animals5-cnn" fm
          cp -r "$R/models/animals5-cnn-int" q; cp -r "$R/models/animals5-mlp" mlp; }
line() { printf '%s | rc %s | %s\n' "$1" "$2" "$(echo "$3" | grep -v '^$' \
         | grep -v '^For more\|^Usage\|^note:\|^stack\|^ *[0-9]*:\|^ *at ' | head -2 | tr '\n' ' ' | cut -c1-260)"; }
c() { local name=$1; shift; local out; out=$("$@" 2>&1 >/dev/null); line "$name" $? "$out"; }
fresh
c "train --data D --out D" "$B" train --data data --out data --arch mlp --epochs 1 -q
echo "   images left in D: $(find data -name '*.jpg' | wc -l)"; fresh
c "train --data D --out D/model" "$B" train --data data --out data/model --arch mlp --epochs 1 -q
echo "   D now holds: $(ls data | tr '\n' ' ')"; fresh
c "quantize --model M --out M" "$B" quantize --model fm --data data --out fm --steps 0 --finetune-epochs 1 -q
echo "   M/model.json: $(test -f fm/model.json && echo kept || echo gone)"; fresh
mkdir mine; echo notes > mine/notes.txt
c "export --out DIR-with-user-files" "$B" export --model q --out mine --vectors 0
echo "   DIR/notes.txt: $(test -f mine/notes.txt && echo kept || echo deleted)"
echo text > afile
c "export --out FILE" "$B" export --model q --out afile --vectors 0
echo "   FILE: $(test -f afile && echo 'still a file' || echo 'now a directory')"
python3 - <<'PY'
import json, struct, hashlib, os
# A consistent mlp on a 32x32x3 input (zero weights): the data pipeline feeds 64x64x3.
os.makedirs('m32', exist_ok=True)
specs = [("layers.1.weight", [8, 3072]), ("layers.1.bias", [8]),
         ("layers.3.weight", [5, 8]), ("layers.3.bias", [5])]
hdr, off, body = {}, 0, b''
for n, s in specs:
    k = 1
    for d in s:
        k *= d
    hdr[n] = {"dtype": "F32", "shape": s, "data_offsets": [off, off + 4 * k]}
    off += 4 * k
    body += b'\0' * (4 * k)
h = json.dumps(hdr).encode()
h += b' ' * ((8 - len(h) % 8) % 8)
w = struct.pack('<Q', len(h)) + h + body
open('m32/weights.safetensors', 'wb').write(w)
m = json.load(open('mlp/model.json'))
m['arch'] = {"name": "mlp32", "input": [32, 32, 3], "layers": [
    {"type": "flatten"}, {"type": "dense", "inputs": 3072, "outputs": 8},
    {"type": "relu"}, {"type": "dense", "inputs": 8, "outputs": 5}]}
m['weights_sha256'] = hashlib.sha256(w).hexdigest()
json.dump(m, open('m32/model.json', 'w'))
for name, edit in [("mlp-escape", lambda m: m.__setitem__('weights_file', '../fm/weights.safetensors')),
                   ("mlp-norm", lambda m: m['normalization'].__setitem__('scale', 1.0)),
                   ("mlp-huge", lambda m: m['arch'].__setitem__('input', [2**64 - 1, 2**64 - 1, 3]))]:
    os.system(f'cp -r mlp {name}')
    m = json.load(open(f'{name}/model.json'))
    edit(m)
    json.dump(m, open(f'{name}/model.json', 'w'))
PY
c "eval, model.json input 32x32x3" "$B" eval --model m32 --data data
c "predict, model.json input 32x32x3" "$B" predict --model m32 data/cat/0000.jpg
c "quantize, model.json input 32x32x3" "$B" quantize --model m32 --data data --out q32 -q
c "eval, model.json weights_file ../other" "$B" eval --model mlp-escape --data data
c "eval, model.json normalization.scale 1" "$B" eval --model mlp-norm --data data
c "eval, model.json input usize::MAX" "$B" eval --model mlp-huge --data data
head -c 1000 data/cat/0000.jpg > data/cat/zz-cut.jpg
c "eval with a truncated JPEG in the data" "$B" eval --model fm --data data --json
rm data/cat/zz-cut.jpg; head -c 1000 data/cat/0000.jpg > cut.jpg
c "predict truncated JPEG" "$B" predict --model fm cut.jpg
c "fpga flash --image JPEG" "$B" fpga flash --dry-run --model-only --model q --image data/cat/0000.jpg
echo "   $("$B" fpga flash --dry-run --model-only --model q --image data/cat/0000.jpg 2>/dev/null | grep 'input image')"
head -c 100 /dev/zero > r.bin
c "fpga flash --image 100-byte .bin" "$B" fpga flash --dry-run --model-only --model q --image r.bin
c "train --epochs 0" "$B" train --data data --out e0 --epochs 0 -q
c "predict quantised dir" "$B" predict --model q data/cat/0000.jpg
mkdir -p long; cp -r data/* long/; mv long/cat "long/$(printf 'c%.0s' $(seq 33))"
"$B" train --data long --out mlong --arch mlp --epochs 1 -q >/dev/null 2>&1
s=$(date +%s)
c "quantize, class name of 33 bytes" "$B" quantize --model mlong --data long --out qlong -q
echo "   after $(( $(date +%s) - s )) s"
