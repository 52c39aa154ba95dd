#!/usr/bin/env python3
"""Makes the ONNX import fixtures of host/tests/onnx.rs: a small paper-shaped CNN trained briefly
in PyTorch on data/sample, exported with torch.onnx.export, and PyTorch's own logits on a few
named data/sample images (the golden numbers of the import test).

Run once from the repository root, in a venv OUTSIDE the repository (CI does not need torch):

    python3 -m venv /tmp/torchvenv && /tmp/torchvenv/bin/pip install torch onnx onnxscript pillow
    /tmp/torchvenv/bin/python host/tests/data/onnx/make_fixture.py

Writes, next to this script:
  paper_cnn_small.onnx        opset 18 (torch.onnx.export, dynamo exporter), inline initializers,
                              class names in metadata_props["cnnfpga.classes"]
  paper_cnn_small_ext.onnx    the same graph with every initializer as external data in
  paper_cnn_small_ext.onnx.data
  paper_cnn_small_op11.onnx   opset 11 (TorchScript exporter, dynamo=False), no metadata
  images/*.png                the pixels PyTorch was given (data/sample JPEGs decoded by Pillow)
  logits.json                 PyTorch's logits for those images, and the provenance
"""
import hashlib
import json
import os
import random
import sys

import numpy as np
import onnx
import torch
import torch.nn as nn
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", "..", ".."))
DATA = os.path.join(ROOT, "data", "sample")
CLASSES = sorted(d for d in os.listdir(DATA) if os.path.isdir(os.path.join(DATA, d)))
HIDDEN = 16  # the paper's dense layer is wider; 16 keeps the fixture near 240 KB


class PaperCnn(nn.Module):
    """conv3x3x10+ReLU, pool, conv5x5x20+ReLU, pool, flatten (13x13x20), dense+ReLU, dropout, dense."""

    def __init__(self, classes, hidden):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 10, 3)
        self.conv2 = nn.Conv2d(10, 20, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.fc1 = nn.Linear(13 * 13 * 20, hidden)
        self.drop = nn.Dropout(0.25)
        self.fc2 = nn.Linear(hidden, classes)

    def forward(self, x):  # x: [N, 3, 64, 64] = pixel / 255
        x = self.pool(torch.relu(self.conv1(x)))
        x = self.pool(torch.relu(self.conv2(x)))
        x = torch.flatten(x, 1)  # CHW order: cnnfpga's import permutes this to its HWC order
        x = self.drop(torch.relu(self.fc1(x)))
        return self.fc2(x)  # logits


def load(path):
    img = Image.open(path).convert("RGB")
    assert img.size == (64, 64), f"{path}: {img.size}, this script feeds 64x64 images unresized"
    px = np.asarray(img, dtype=np.uint8)  # [H, W, 3]
    return px


def to_input(px):
    return torch.from_numpy(px.astype(np.float32) / 255.0).permute(2, 0, 1)  # NCHW, pixel / 255


def main():
    torch.manual_seed(0)
    random.seed(0)
    files = [(c, f) for ci, c in enumerate(CLASSES) for f in sorted(os.listdir(os.path.join(DATA, c)))
             if f.lower().endswith((".jpg", ".jpeg", ".png"))]
    xs = torch.stack([to_input(load(os.path.join(DATA, c, f))) for c, f in files])
    ys = torch.tensor([CLASSES.index(c) for c, _ in files])
    model = PaperCnn(len(CLASSES), HIDDEN)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    for epoch in range(8):
        model.train()
        perm = torch.randperm(len(xs))
        total = 0.0
        for i in range(0, len(xs), 32):
            idx = perm[i:i + 32]
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(xs[idx]), ys[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        print(f"epoch {epoch + 1}: loss {total / len(xs):.4f}", file=sys.stderr)
    model.eval()

    dummy = torch.zeros(1, 3, 64, 64)
    main_path = os.path.join(HERE, "paper_cnn_small.onnx")
    torch.onnx.export(model, (dummy,), main_path, input_names=["input"], output_names=["logits"],
                      opset_version=18, dynamo=True, external_data=False,
                      dynamic_shapes={"x": {0: "N"}})
    m = onnx.load(main_path)
    m.metadata_props.add(key="cnnfpga.classes", value=json.dumps(CLASSES))
    m.metadata_props.add(key="cnnfpga.input", value="NCHW float32, RGB, 64x64, x = pixel / 255")
    onnx.checker.check_model(m)
    onnx.save_model(m, main_path)

    ext_path = os.path.join(HERE, "paper_cnn_small_ext.onnx")
    if os.path.exists(ext_path + ".data"):
        os.remove(ext_path + ".data")  # onnx appends to an existing data file
    onnx.save_model(m, ext_path, save_as_external_data=True, all_tensors_to_one_file=True,
                    location="paper_cnn_small_ext.onnx.data", size_threshold=0)

    op11_path = os.path.join(HERE, "paper_cnn_small_op11.onnx")
    torch.onnx.export(model, (dummy,), op11_path, input_names=["input"], output_names=["logits"],
                      opset_version=11, dynamo=False, dynamic_axes={"input": {0: "N"}})
    onnx.checker.check_model(onnx.load(op11_path))

    # JPEG decoders differ in the last bit (Pillow's libjpeg vs the `image` crate's), so the
    # pixels PyTorch saw are saved losslessly as PNG next to this script; the test reads those.
    named = [(c, f) for c in CLASSES for f in sorted(os.listdir(os.path.join(DATA, c)))[:2]]
    os.makedirs(os.path.join(HERE, "images"), exist_ok=True)
    out = []
    with torch.no_grad():
        for c, f in named:
            px = load(os.path.join(DATA, c, f))
            png = f"images/{c}_{os.path.splitext(f)[0]}.png"
            Image.fromarray(px).save(os.path.join(HERE, png), optimize=True)
            logits = model(to_input(px).unsqueeze(0))[0]
            out.append({
                "image": f"host/tests/data/onnx/{png}",
                "source": f"data/sample/{c}/{f} decoded by Pillow",
                "pixels_rgb_sha256": hashlib.sha256(px.tobytes()).hexdigest(),
                "logits": [float(v) for v in logits],
            })
    doc = {
        "provenance": "host/tests/data/onnx/make_fixture.py (run from the repository root with "
                      "/tmp/torchvenv/bin/python); PyTorch eval-mode logits of PaperCnn on the "
                      "images below (lossless PNGs of data/sample JPEGs as Pillow decoded them), "
                      "x = pixel / 255, NCHW",
        "torch": torch.__version__,
        "onnx": onnx.__version__,
        "pillow": Image.__version__,
        "classes": CLASSES,
        "hidden": HIDDEN,
        "images": out,
    }
    with open(os.path.join(HERE, "logits.json"), "w") as fh:
        json.dump(doc, fh, indent=1)
        fh.write("\n")
    for p in sorted(os.listdir(HERE)):
        print(f"{os.path.getsize(os.path.join(HERE, p)):>8}  {p}", file=sys.stderr)


if __name__ == "__main__":
    main()
