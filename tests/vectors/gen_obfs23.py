#!/usr/bin/env python3
"""Regenerate tests/vectors/{uniformdh,obfs3,obfs2,aes_ctr}.txt.

Independent of ptkit's C code: modular exponentiation is Python's pow(),
HMAC/SHA-256 come from hashlib/hmac, and AES-CTR is built here from single
AES block encryptions (the `cryptography` package, ECB) with the 128-bit
big-endian counter done in Python integers. The UniformDH pair x/y is the
one from obfs4proxy 0.0.14's common/uniformdh/uniformdh_test.go; the script
checks that pow() reproduces its published public keys and shared secret.

    python3 tests/vectors/gen_obfs23.py   (writes next to this file)
"""
import hashlib
import hmac
import os
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

HERE = os.path.dirname(os.path.abspath(__file__))

P = int("FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD1"
        "29024E088A67CC74020BBEA63B139B22514A08798E3404DD"
        "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245"
        "E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
        "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3D"
        "C2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F"
        "83655D23DCA3AD961C62F356208552BB9ED529077096966D"
        "670C354E4ABC9804F1746C08CA237327FFFFFFFFFFFFFFFF", 16)
SIZE = 192

# obfs4proxy 0.0.14 uniformdh_test.go (ASCII text as key material)
UP_X_PRIV = bytes.fromhex(
    "6f592d676f536874746f20686e6b776f20736874206561676574202e6f592d67"
    "6f536874746f20687369742065686720" "74612e655920676f532d746f6f686874"
    "6920207368742065656b20796e6120647567726169646e616f20206668742065"
    "61676574202e61507473202c727073656e652c746620747572752c6561206c6c"
    "612065726f20656e6920206e6f592d676f536874746f2e68482020656e6b776f"
    "2073687772652065687420656c4f20646e4f736562206f72656b74207268756f")
UP_X_PUB = (
    "76a3d17d5c55b03e865fa3e8267990a724baa24b0bdd0cc4af93be8de30be120"
    "d5533c91bf63ef923b02edcb84b744383f7de232cca6eb46d07cad83dcaa317f"
    "becbc68ca13e2c4019e6a3653106745004aecc0be1dff0a78733fb0e7d5cb7c4"
    "97cab77b1331bf347e5f3a7847aa0bc0f4bc64146b48407fed7b931d16972d25"
    "fb4da5e6dc074ce2a58daa8de7624247cdf2ebe4e4dfec6d5989aac778c87559"
    "d3213d6040d4111ce3a2acae19f9ee1532509e037f69b252fdc30243cbbce9d0")
UP_Y_PRIV = bytes.fromhex(
    "736562206f72656b74207268756f68676f2020666c6f2c646120646e77206568"
    "657254206568207968736c61206c72626165206b68746f726775206867616961"
    "2e6e482020656e6b776f2073687772652065685479656820766120657274646f"
    "652072616874732766206569646c2c736120646e772065686572542065682079"
    "74736c69206c72746165206468746d65202c6e612064687720796f6e6f20656e"
    "63206e61622068656c6f206468546d6561202073685479657420657264610a2e")
UP_Y_PUB = (
    "d04e156e554c37ffd7aba749df6623501e4ff4466cb12be055617c1a36872237"
    "36d2c3fdce9ee0f9b27774350849112aa5aeb1f126811c9c2f3a9cb13d2f0c3a"
    "7e6fa2d3bf71baf50d839171534f227efbb2ce4227a38c25abdc5ba7fc430111"
    "3a2cb2069c9b305faac4b72bf21fec71578a9c369bcac84e1a7dcf0754e342f5"
    "bc8fe4917441b88254435e2abaf297e93e1e57968672d45bd7d4c8ba1bc3d314"
    "889b5bc3d3e4ea33d4f2dfdd34e5e5a72ff24ee46316d4757dad09366a0b66b3")
UP_SS = (
    "78afaf5f457f1fdb832bebc397644a33038be9dba10ca2ce4a076f327f3a0ce3"
    "151d477b869ee7ac467755292ad8a77db9bd87ffbbc39955bcfb03b1583888c8"
    "fd037834ff3f401d463c10f899aa6378445140b7f8386a7d509e7b9db19b677f"
    "062a7a1a4e1509604d7a0839ccd5da6173e10afd9eab6dda74539d60493ca37f"
    "a5c98cd9640b409cd8bb3be2bc5136fd42e764fc3f3c0ddb8db3d87abcf2e659"
    "8d2b101bef7a56f50ebc658f9df1287da81359543e77e4a4cfa7598a4152e4c0")


def be(n, size=SIZE):
    return n.to_bytes(size, "big")


def udh_keypair(raw):
    v = int.from_bytes(raw, "big")
    odd = v & 1
    x = v & ~1
    X = pow(2, x, P)
    pub = P - X if odd else X
    return x, be(pub)


def udh_shared(x, peer):
    return be(pow(int.from_bytes(peer, "big") % P, x, P))


def aes_ctr(key, iv, data):
    """AES-CTR with a 128-bit big-endian counter, one ECB block at a time."""
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    ctr = int.from_bytes(iv, "big")
    out = bytearray()
    for i in range(0, len(data), 16):
        ks = enc.update(ctr.to_bytes(16, "big"))
        ctr = (ctr + 1) % (1 << 128)
        out += bytes(a ^ b for a, b in zip(data[i:i + 16], ks))
    return bytes(out)


def chain(label, n):
    """Deterministic test bytes: SHA-512 in counter mode over a label."""
    out = b""
    i = 0
    while len(out) < n:
        out += hashlib.sha512(label + struct.pack(">I", i)).digest()
        i += 1
    return out[:n]


def write(name, header, items):
    with open(os.path.join(HERE, name), "w") as f:
        for line in header.strip().splitlines():
            f.write("# " + line + "\n" if line else "#\n")
        for k, v in items:
            f.write("%s = %s\n" % (k, v.hex() if isinstance(v, bytes) else v))


def main():
    # --- UniformDH ---
    xa, xpub = udh_keypair(UP_X_PRIV)
    ya, ypub = udh_keypair(UP_Y_PRIV)
    ss = udh_shared(xa, ypub)
    assert xpub.hex() == UP_X_PUB and ypub.hex() == UP_Y_PUB and ss.hex() == UP_SS
    assert udh_shared(ya, xpub) == ss
    assert UP_X_PRIV[-1] & 1 == 1 and UP_Y_PRIV[-1] & 1 == 0  # x sends p-g^x, y sends g^x

    # a key whose wire encoding starts with a zero byte, and a peer giving a
    # shared secret that starts with one (192-byte left padding)
    i = 0
    while True:
        zraw = chain(b"ptkit udh z %d" % i, SIZE)
        z, zpub = udh_keypair(zraw)
        if zpub[0] == 0:
            break
        i += 1
    i = 0
    while True:
        wraw = chain(b"ptkit udh w %d" % i, SIZE)
        w, wpub = udh_keypair(wraw)
        zw = udh_shared(z, wpub)
        if zw[0] == 0:
            break
        i += 1
    assert udh_shared(w, zpub) == zw
    # shared secrets with out-of-range peer values, as Go's big.Int computes them
    peer_p = be(P)                  # == 0 mod p
    peer_ff = b"\xff" * SIZE        # >= p: reduced mod p
    write("uniformdh.txt", """
UniformDH known answers (RFC 3526 group 5, g = 2), from tests/vectors/gen_obfs23.py
(Python pow()). x/y are obfs4proxy 0.0.14's uniformdh_test.go pair: x_priv is odd
(sends p - g^x), y_priv even (sends g^x); the script checks pow() reproduces its
x_pub, y_pub and shared. z_pub starts with 0x00; zw_shared too.
Format: name = hex (192 bytes unless noted).""", [
        ("p", be(P)),
        ("x_priv", UP_X_PRIV), ("x_pub", xpub),
        ("y_priv", UP_Y_PRIV), ("y_pub", ypub),
        ("xy_shared", ss),
        ("z_priv", zraw), ("z_pub", zpub),
        ("w_priv", wraw), ("w_pub", wpub),
        ("zw_shared", zw),
        ("x_with_p_shared", udh_shared(xa, peer_p)),
        ("x_with_ff_shared", udh_shared(xa, peer_ff)),
    ])

    # --- AES-128-CTR with carries through the whole counter ---
    key = bytes(range(16))
    iv1 = bytes(8) + b"\xff" * 8
    iv2 = b"\xff" * 16
    iv3 = bytes.fromhex("000102030405060708090a0b0c0d0efe")
    msg = chain(b"ptkit aes msg", 100)
    write("aes_ctr.txt", """
AES-128-CTR, 128-bit big-endian counter (carries across all 16 bytes, wraps at 2^128),
from tests/vectors/gen_obfs23.py (counter arithmetic in Python, one AES block at a time).""", [
        ("key", key), ("msg", msg),
        ("iv_low64_ones", iv1), ("ct_low64_ones", aes_ctr(key, iv1, msg)),
        ("iv_all_ones", iv2), ("ct_all_ones", aes_ctr(key, iv2, msg)),
        ("iv_plain", iv3), ("ct_plain", aes_ctr(key, iv3, msg)),
    ])

    # --- obfs3 key schedule from a fixed shared secret ---
    def hm(k, s):
        return hmac.new(k, s, hashlib.sha256).digest()
    init_secret = hm(ss, b"Initiator obfuscated data")
    resp_secret = hm(ss, b"Responder obfuscated data")
    data = chain(b"ptkit obfs3 data", 80)
    write("obfs3.txt", """
obfs3 key schedule (obfs3 spec / obfs4proxy 0.0.14 transports/obfs3), from
tests/vectors/gen_obfs23.py. shared = uniformdh.txt xy_shared.
key = secret[0:16], counter = secret[16:32]; *_ct = AES-128-CTR(key, counter, data).""", [
        ("shared", ss),
        ("init_secret", init_secret), ("resp_secret", resp_secret),
        ("init_magic", hm(ss, b"Initiator magic")),
        ("resp_magic", hm(ss, b"Responder magic")),
        ("data", data),
        ("init_ct", aes_ctr(init_secret[:16], init_secret[16:], data)),
        ("resp_ct", aes_ctr(resp_secret[:16], resp_secret[16:], data)),
    ])

    # --- obfs2 keys from fixed seeds ---
    def mac(s, x):
        return hashlib.sha256(s + x + s).digest()
    init_seed = chain(b"ptkit obfs2 init seed", 16)
    resp_seed = chain(b"ptkit obfs2 resp seed", 16)
    ipad = mac(b"Initiator obfuscation padding", init_seed)
    rpad = mac(b"Responder obfuscation padding", resp_seed)
    idata = mac(b"Initiator obfuscated data", init_seed + resp_seed)
    rdata = mac(b"Responder obfuscated data", init_seed + resp_seed)
    cpad = chain(b"ptkit obfs2 client pad", 5)
    client_hs = init_seed + aes_ctr(ipad[:16], ipad[16:],
                                    struct.pack(">II", 0x2BF5CA7E, len(cpad)) + cpad)
    server_hs = resp_seed + aes_ctr(rpad[:16], rpad[16:], struct.pack(">II", 0x2BF5CA7E, 0))
    bad_magic = resp_seed + aes_ctr(rpad[:16], rpad[16:], struct.pack(">II", 0x2BF5CA7F, 0))
    big_pad = resp_seed + aes_ctr(rpad[:16], rpad[16:], struct.pack(">II", 0x2BF5CA7E, 8193))
    max_pad = resp_seed + aes_ctr(rpad[:16], rpad[16:],
                                  struct.pack(">II", 0x2BF5CA7E, 8192))  # + 8192 pad bytes
    data = chain(b"ptkit obfs2 data", 80)

    # with the optional shared secret (Python obfsproxy's obfs2):
    # MAC(s, x) = H^n(s | x | H(SECRET) | s), n = 100000, H^n = H applied n times
    def mac_ss(s, x, secret):
        m = s + x + hashlib.sha256(secret).digest() + s
        for _ in range(100000):
            m = hashlib.sha256(m).digest()
        return m
    secret = b"hunter2"
    ss_ipad = mac_ss(b"Initiator obfuscation padding", init_seed, secret)
    ss_rpad = mac_ss(b"Responder obfuscation padding", resp_seed, secret)
    ss_idata = mac_ss(b"Initiator obfuscated data", init_seed + resp_seed, secret)
    ss_rdata = mac_ss(b"Responder obfuscated data", init_seed + resp_seed, secret)
    ss_server_hs = resp_seed + aes_ctr(ss_rpad[:16], ss_rpad[16:],
                                       struct.pack(">II", 0x2BF5CA7E, 0))
    write("obfs2.txt", """
obfs2 key schedule (obfs2 spec / obfs4proxy 0.0.14 transports/obfs2), from
tests/vectors/gen_obfs23.py. MAC(s, x) = SHA256(s | x | s); key = MAC[0:16], iv = MAC[16:32].
*_pad_*: MAC("<Role> obfuscation padding", own seed); *_data_*: MAC("<Role> obfuscated data",
INIT_SEED | RESP_SEED). client_hs: INIT_SEED | E(pad key, MAGIC | PADLEN=5 | client_pad);
server_hs: RESP_SEED | E(pad key, MAGIC | 0); bad_magic_hs: magic 0x2BF5CA7F;
padlen_8193_hs / padlen_8192_hs: headers only (the latter wants 8192 more bytes).
ss_*: the same with the shared secret "hunter2" (Python obfsproxy): MAC(s, x) =
H^100000(s | x | SHA256(secret) | s); ss_server_hs: RESP_SEED | E(ss pad key, MAGIC | 0).""", [
        ("init_seed", init_seed), ("resp_seed", resp_seed),
        ("init_pad_key", ipad[:16]), ("init_pad_iv", ipad[16:]),
        ("resp_pad_key", rpad[:16]), ("resp_pad_iv", rpad[16:]),
        ("init_data_key", idata[:16]), ("init_data_iv", idata[16:]),
        ("resp_data_key", rdata[:16]), ("resp_data_iv", rdata[16:]),
        ("client_pad", cpad), ("client_hs", client_hs), ("server_hs", server_hs),
        ("bad_magic_hs", bad_magic), ("padlen_8193_hs", big_pad), ("padlen_8192_hs", max_pad),
        ("data", data),
        ("init_data_ct", aes_ctr(idata[:16], idata[16:], data)),
        ("resp_data_ct", aes_ctr(rdata[:16], rdata[16:], data)),
        ("ss_secret", secret),
        ("ss_init_pad_key", ss_ipad[:16]), ("ss_init_pad_iv", ss_ipad[16:]),
        ("ss_resp_pad_key", ss_rpad[:16]), ("ss_resp_pad_iv", ss_rpad[16:]),
        ("ss_init_data_key", ss_idata[:16]), ("ss_init_data_iv", ss_idata[16:]),
        ("ss_resp_data_key", ss_rdata[:16]), ("ss_resp_data_iv", ss_rdata[16:]),
        ("ss_server_hs", ss_server_hs),
        ("ss_resp_data_ct", aes_ctr(ss_rdata[:16], ss_rdata[16:], data)),
    ])


if __name__ == "__main__":
    main()
