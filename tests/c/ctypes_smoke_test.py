# SPDX-License-Identifier: Apache-2.0
"""The C ABI from Python's ctypes, as a language binding would call it: the library's version,
its paths, a quantization, a small GEMM checked by hand, and an error code.
Usage: python3 ctypes_smoke_test.py path/to/libqinfer_c.so"""
import ctypes
import sys

lib = ctypes.CDLL(sys.argv[1])

lib.qinfer_version.restype = ctypes.c_uint32
lib.qinfer_version_string.restype = ctypes.c_char_p
lib.qinfer_isa_name.restype = ctypes.c_char_p
lib.qinfer_last_error.restype = ctypes.c_char_p
lib.qinfer_status_name.restype = ctypes.c_char_p


class QuantParams(ctypes.Structure):
    _fields_ = [("scale", ctypes.c_float), ("zero_point", ctypes.c_int32)]


class OutputStage(ctypes.Structure):
    _fields_ = [("kind", ctypes.c_int), ("scales", ctypes.POINTER(ctypes.c_float)),
                ("multipliers", ctypes.c_void_p), ("count", ctypes.c_size_t),
                ("zero_point", ctypes.c_int32), ("min", ctypes.c_int32), ("max", ctypes.c_int32)]


INT8, UINT8 = 0, 1
OK, INVALID_SCALE, SHAPE_MISMATCH, NULL_POINTER = 0, 2, 5, 7

version = lib.qinfer_version()
text = lib.qinfer_version_string().decode()
major, minor, patch = (int(part) for part in text.split("."))
assert version == major * 10000 + minor * 100 + patch, (version, text)
active = lib.qinfer_isa_name(lib.qinfer_active_isa()).decode()
print(f"qinfer {text}, active path {active}")

x = (ctypes.c_float * 4)(-1.0, 0.0, 0.26, 300.0)
q = (ctypes.c_uint8 * 4)()
assert lib.qinfer_quantize(x, ctypes.c_size_t(4), UINT8, QuantParams(0.5, 10), q) == OK
assert list(q) == [8, 10, 11, 255], list(q)
assert lib.qinfer_quantize(x, ctypes.c_size_t(4), UINT8, QuantParams(0.0, 10), q) == INVALID_SCALE
assert b"scale" in lib.qinfer_last_error()

# C = (A - 1) B + bias for A 2x3 (uint8), B 3x2 (int8), int32 output.
a = (ctypes.c_uint8 * 6)(1, 2, 3, 4, 5, 6)
b = (ctypes.c_int8 * 6)(1, -1, 2, 0, -3, 4)
bias = (ctypes.c_int32 * 2)(100, -100)
packed = ctypes.c_void_p()
size = ctypes.c_size_t
assert lib.qinfer_pack_gemm(INT8, b, size(3), size(2), size(2), None, size(0), bias, size(2),
                            ctypes.byref(packed)) == OK
c = (ctypes.c_int32 * 4)()
stage = OutputStage(kind=0)
assert lib.qinfer_gemm(UINT8, a, size(2), size(3), 1, packed, ctypes.byref(stage), c, size(2),
                       None) == OK
expected = []
for row in range(2):
    for col in range(2):
        expected.append(bias[col] + sum((a[row * 3 + k] - 1) * b[k * 2 + col] for k in range(3)))
assert list(c) == expected, (list(c), expected)
assert lib.qinfer_gemm(UINT8, a, size(2), size(3), 1, None, ctypes.byref(stage), c, size(2),
                       None) == NULL_POINTER
lib.qinfer_packed_gemm_destroy(packed)
print("status", SHAPE_MISMATCH, "is", lib.qinfer_status_name(SHAPE_MISMATCH).decode())
print("ctypes smoke test passed")
