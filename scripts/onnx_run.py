#!/usr/bin/env python3
"""Runs an ONNX model with onnxruntime (CPU) for host/tests/onnx.rs.

stdin : {"model": "path.onnx", "shape": [N, 3, 64, 64], "data": [N*3*64*64 floats, NCHW]}
stdout: {"onnxruntime": "1.22.1", "input": name, "output": name, "shape": [...], "logits": [...]}

Needs the project venv (.venv/bin/python) with onnxruntime and numpy, installed pinned by
scripts/setup.sh.
"""
import json
import sys

import numpy as np
import onnxruntime as ort


def main():
    req = json.load(sys.stdin)
    x = np.asarray(req["data"], dtype=np.float32).reshape(req["shape"])
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(req["model"], sess_options=opts, providers=["CPUExecutionProvider"])
    (inp,) = sess.get_inputs()
    (out,) = sess.get_outputs()
    (y,) = sess.run([out.name], {inp.name: x})
    json.dump({
        "onnxruntime": ort.__version__,
        "input": inp.name,
        "output": out.name,
        "shape": list(y.shape),
        "logits": [float(v) for v in y.reshape(-1)],
    }, sys.stdout)


if __name__ == "__main__":
    main()
