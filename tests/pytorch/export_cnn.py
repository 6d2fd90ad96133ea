#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""PyTorch's side of the parity test (parity_test.cpp).

Trains the demo's CNN briefly with PyTorch on Fashion-MNIST and writes, into OUT_DIR:
  weights.safetensors    conv1, conv2, fc1, fc2 in PyTorch's names and layouts (F32)
  reference.safetensors  "images" [N, 1, 28, 28] (NCHW, in [0, 1]) and "logits" [N, 10], the
                         model's outputs in PyTorch for those images

usage: export_cnn.py FASHION_MNIST_DIR OUT_DIR
"""
import json
import pathlib
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def read_idx(path):
    data = path.read_bytes()
    rank = data[3]
    dims = struct.unpack(">" + "I" * rank, data[4 : 4 + 4 * rank])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims)


def write_safetensors(path, tensors):
    """The format as PyTorch's safetensors package writes it: u64 header size, JSON, data."""
    header, blobs, offset = {}, [], 0
    for name, tensor in tensors.items():
        blob = np.ascontiguousarray(tensor.detach().numpy(), dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensor.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"".join(blobs))


class Cnn(nn.Module):
    """The demo's CNN, as examples/fashion_mnist.cpp builds it."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.fc1 = nn.Linear(32 * 7 * 7, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc2(F.relu(self.fc1(torch.flatten(x, 1))))


def main():
    data, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    torch.set_num_threads(1)
    images = torch.from_numpy(read_idx(data / "train-images-idx3-ubyte")[:6400].copy())
    labels = torch.from_numpy(read_idx(data / "train-labels-idx1-ubyte")[:6400].astype(np.int64))
    images = images.float().div(255).unsqueeze(1)
    model = Cnn()
    adam = torch.optim.Adam(model.parameters(), lr=1e-3)
    for first in range(0, len(images), 64):
        adam.zero_grad()
        F.cross_entropy(model(images[first : first + 64]), labels[first : first + 64]).backward()
        adam.step()
    model.eval()
    test = torch.from_numpy(read_idx(data / "t10k-images-idx3-ubyte")[:1000].copy())
    test = test.float().div(255).unsqueeze(1)
    with torch.no_grad():
        logits = model(test)
    write_safetensors(out / "weights.safetensors", dict(model.state_dict()))
    write_safetensors(out / "reference.safetensors", {"images": test, "logits": logits})
    print(f"PyTorch {torch.__version__}: trained 100 batches, wrote {out}")


if __name__ == "__main__":
    main()
