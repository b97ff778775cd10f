#!/usr/bin/env python3
"""Regenerate tests/vectors/scramblesuit.txt.

Independent of ptkit's C code: HMAC/SHA-256 from hashlib/hmac, HKDF's
expand step written out here (RFC 5869, T(i) = HMAC(PRK, T(i-1) | info | i)),
AES from the `cryptography` package (CBC for tickets; CTR built from ECB
blocks with the 64-bit counter after the 8-byte prefix done in Python
integers), base32 from Python's base64 module. The layouts follow
scramblesuit-spec.txt and obfsproxy's ticket.py / message.py; the key split
follows obfs4proxy 0.0.14's conn.go initCrypto.

The UniformDH pair is uniformdh.txt's x/y (obfs4proxy's test pair):
master = SHA-256(xy_shared).

    python3 tests/vectors/gen_scramblesuit.py   (writes next to this file)
"""
import base64
import hashlib
import hmac
import os
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

HERE = os.path.dirname(os.path.abspath(__file__))

PASSWORD = bytes(range(1, 21))  # k_B
UNIX = 1700000000
EPOCH = str(UNIX // 3600).encode()  # "472222"


def read_vectors(name):
    out = {}
    with open(os.path.join(HERE, name)) as f:
        for line in f:
            if line.startswith("#") or " = " not in line:
                continue
            k, v = line.rstrip("\n").split(" = ", 1)
            out[k] = v
    return out


def chain(label, n):
    """Deterministic test bytes: SHA-512 in counter mode over a label."""
    out = b""
    i = 0
    while len(out) < n:
        out += hashlib.sha512(label + struct.pack(">I", i)).digest()
        i += 1
    return out[:n]


def hmac256(key, msg):
    return hmac.new(key, msg, hashlib.sha256).digest()


def hmac128(key, msg):
    return hmac256(key, msg)[:16]


def hkdf_expand(prk, info, length):
    okm, t, i = b"", b"", 1
    while len(okm) < length:
        t = hmac256(prk, t + info + bytes([i]))
        okm += t
        i += 1
    return okm[:length]


def keys(master):
    okm = hkdf_expand(master, b"", 144)
    return {"c2s_key": okm[0:32], "c2s_iv": okm[32:40], "s2c_key": okm[40:72],
            "s2c_iv": okm[72:80], "c2s_mac": okm[80:112], "s2c_mac": okm[112:144],
            "okm": okm}


class Ctr:
    """AES-256-CTR: counter block = 8-byte prefix | big-endian 64-bit counter from 1."""

    def __init__(self, key, prefix):
        self.enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
        self.prefix = prefix
        self.ctr = 1
        self.stream = b""

    def xor(self, data):
        while len(self.stream) < len(data):
            self.stream += self.enc.update(self.prefix + self.ctr.to_bytes(8, "big"))
            self.ctr += 1
        ks, self.stream = self.stream[:len(data)], self.stream[len(data):]
        return bytes(a ^ b for a, b in zip(data, ks))


def message(ctr, mac_key, flags, payload, padlen):
    """MAC (16) | E(total (2) | payload length (2) | flags | payload | zero padding)."""
    total = len(payload) + padlen
    ct = ctr.xor(struct.pack(">HHB", total, len(payload), flags) + payload + bytes(padlen))
    return hmac128(mac_key, ct) + ct


def seal_ticket(aes_key, hmac_key, iv, issued, master):
    state = struct.pack("<I", issued) + b"ScrambleSuitTicket" + master + bytes(10)
    assert len(state) == 64
    enc = Cipher(algorithms.AES(aes_key), modes.CBC(iv)).encryptor()
    ct = enc.update(state) + enc.finalize()
    return iv + ct + hmac256(hmac_key, iv + ct)


def write(name, header, items):
    with open(os.path.join(HERE, name), "w") as f:
        for line in header.strip().splitlines():
            f.write("# " + line + "\n" if line else "#\n")
        for k, v in items:
            f.write("%s = %s\n" % (k, v.hex() if isinstance(v, bytes) else v))


def main():
    udh = read_vectors("uniformdh.txt")
    x_pub, y_pub = bytes.fromhex(udh["x_pub"]), bytes.fromhex(udh["y_pub"])
    shared = bytes.fromhex(udh["xy_shared"])

    # --- UniformDH handshake and its key schedule ---
    master = hashlib.sha256(shared).digest()
    k = keys(master)
    c_pad = chain(b"scramblesuit client pad", 333)
    m_c = hmac128(PASSWORD, x_pub)
    client_hs = x_pub + c_pad + m_c + hmac128(PASSWORD, x_pub + c_pad + m_c + EPOCH)
    s_pad = chain(b"scramblesuit server pad", 77)
    m_s = hmac128(PASSWORD, y_pub)
    server_hs = y_pub + s_pad + m_s + hmac128(PASSWORD, y_pub + s_pad + m_s + EPOCH)

    # --- messages on that session ---
    up = Ctr(k["c2s_key"], k["c2s_iv"])
    msg1_payload = b"scramblesuit known answer, message 1"
    msg1 = message(up, k["c2s_mac"], 1, msg1_payload, 5)
    msg2_payload = chain(b"scramblesuit message 2", 1427)
    msg2 = message(up, k["c2s_mac"], 1, msg2_payload, 0)
    down = Ctr(k["s2c_key"], k["s2c_iv"])
    seed = chain(b"scramblesuit prng seed", 32)
    seed_msg = message(down, k["s2c_mac"], 4, seed, 100)

    # --- a session ticket and its handshake ---
    t_aes = chain(b"scramblesuit ticket aes key", 16)
    t_hmac = chain(b"scramblesuit ticket hmac key", 32)
    t_iv = chain(b"scramblesuit ticket iv", 16)
    t_master = chain(b"scramblesuit ticket master key", 32)
    t_issued = UNIX - 3600
    ticket = seal_ticket(t_aes, t_hmac, t_iv, t_issued, t_master)
    tk = keys(t_master)
    t_pad = chain(b"scramblesuit ticket pad", 200)
    m_t = hmac128(tk["c2s_mac"], ticket)
    ticket_hs = ticket + t_pad + m_t + hmac128(tk["c2s_mac"], ticket + t_pad + m_t + EPOCH)
    t_up = Ctr(tk["c2s_key"], tk["c2s_iv"])
    t_msg_payload = b"data right behind the ticket"
    t_msg = message(t_up, tk["c2s_mac"], 1, t_msg_payload, 3)
    old_aes = chain(b"scramblesuit old aes", 16)
    old_hmac = chain(b"scramblesuit old hmac", 32)
    old_ticket = seal_ticket(old_aes, old_hmac, t_iv, t_issued, t_master)

    write("scramblesuit.txt", """
scramblesuit known answers, from tests/vectors/gen_scramblesuit.py (Python
hmac/hashlib, AES from `cryptography`). password = k_B; unix = the clock;
epoch = unix / 3600 in decimal. The UniformDH pair is uniformdh.txt's x (client)
and y (server): master = SHA-256(xy_shared), okm = HKDF-SHA256-Expand(master,
info "", 144): c2s key/iv, s2c key/iv, c2s mac, s2c mac at 0/32/40/72/80/112.
*_hs are complete handshake messages (the padding is given); msg1, msg2 are
the first two client->server messages of that session, seed_msg the first
server->client one. ticket = IV | AES-128-CBC(LE32 issued | "ScrambleSuitTicket"
| master | 10 zero bytes) | HMAC-SHA256(ticket_hmac_key, IV | ciphertext);
ticket_hs redeems it, t_msg is the first client->server message after it.""", [
        ("password", PASSWORD), ("password_b32", base64.b32encode(PASSWORD).decode()),
        ("unix", str(UNIX)), ("epoch", EPOCH.decode()),
        ("master", master), ("okm", k["okm"]),
        ("c2s_key", k["c2s_key"]), ("c2s_iv", k["c2s_iv"]),
        ("s2c_key", k["s2c_key"]), ("s2c_iv", k["s2c_iv"]),
        ("c2s_mac", k["c2s_mac"]), ("s2c_mac", k["s2c_mac"]),
        ("client_pad", c_pad), ("client_hs", client_hs),
        ("server_pad", s_pad), ("server_hs", server_hs),
        ("msg1_payload", msg1_payload), ("msg1", msg1),
        ("msg2_payload", msg2_payload), ("msg2", msg2),
        ("seed", seed), ("seed_msg", seed_msg),
        ("ticket_aes_key", t_aes), ("ticket_hmac_key", t_hmac), ("ticket_iv", t_iv),
        ("ticket_master", t_master), ("ticket_issued", str(t_issued)), ("ticket", ticket),
        ("ticket_c2s_mac", tk["c2s_mac"]), ("ticket_s2c_key", tk["s2c_key"]),
        ("ticket_s2c_iv", tk["s2c_iv"]), ("ticket_s2c_mac", tk["s2c_mac"]),
        ("ticket_pad", t_pad), ("ticket_hs", ticket_hs),
        ("t_msg_payload", t_msg_payload), ("t_msg", t_msg),
        ("old_ticket_aes_key", old_aes),
        ("old_ticket_hmac_key", old_hmac),
        ("old_ticket", old_ticket),
        ("key_ticket_b32", base64.b32encode(t_master + ticket).decode()),
    ])


if __name__ == "__main__":
    main()
