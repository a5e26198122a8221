# SPDX-License-Identifier: Apache-2.0
# A python workload for the heaphook guest suite, run under the hook.
# Builds dicts, lists, strings, bytes and bytearrays, round-trips them
# through json, pickle, zlib and hashlib, checks every result, then tells
# the driver "ready ..." on fd 3 (the control socket) with 40 MiB of bytes
# still alive and waits for "exit". Any mismatch raises: exit status 1.
import hashlib
import json
import os
import pickle
import sys
import zlib

CTL = 3
MIB = 1 << 20
NBYTES = int(sys.argv[1]) if len(sys.argv) > 1 else 40

def mix(i):
    x = (i ^ 0x9E3779B9) & 0xFFFFFFFF
    x = ((x ^ (x >> 16)) * 0x85EBCA6B) & 0xFFFFFFFF
    x = ((x ^ (x >> 13)) * 0xC2B2AE35) & 0xFFFFFFFF
    return x ^ (x >> 16)

# 1. dicts and lists, json and pickle round trips
d = {f"key{i}": {"i": i, "s": "v" * (i % 50), "l": list(range(i % 20)), "h": mix(i)}
     for i in range(100000)}
text = json.dumps(d)
assert json.loads(text) == d
assert pickle.loads(pickle.dumps(d)) == d

# 2. strings and lists
parts = [format(mix(i), "x") for i in range(200000)]
joined = ",".join(parts)
assert joined.split(",") == parts
big_list = [[i, str(i), (i, i * 2)] for i in range(100000)]
assert sum(x[0] for x in big_list) == 100000 * 99999 // 2

# 3. bytes: NBYTES MiB that stay alive (objects above 512 bytes come from
# malloc), and a bytearray grown by appends (realloc)
blobs = [bytes([i % 251]) * MIB for i in range(NBYTES)]
ba = bytearray()
for i in range(4096):
    ba += mix(i).to_bytes(4, "little") * 64
assert len(ba) == 4096 * 256

def check():
    for i, b in enumerate(blobs):
        assert len(b) == MIB and b[0] == i % 251 and b[-1] == i % 251
        assert b.count(bytes([i % 251])) == MIB if i % 8 == 0 else True

check()

# 4. zlib, hashlib
z = zlib.compress(text.encode())
assert zlib.decompress(z).decode() == text
h1 = hashlib.sha256(blobs[1]).hexdigest()
h = hashlib.sha256()
for o in range(0, MIB, 65536):
    h.update(blobs[1][o:o + 65536])
assert h.hexdigest() == h1

os.write(CTL, f"ready bytes {NBYTES} json {len(text)}".encode())
msg = os.read(CTL, 64)
assert msg == b"exit", msg
check()
