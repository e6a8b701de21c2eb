"""Mock peers for faults.sh (run with /usr/bin/python3). No real SSH program
sends these byte sequences or drops a connection at these points, so the
test drives them from here.

  faults_peer.py stall PORT            version line, then silence; prints how
                                       and when the peer closed
  faults_peer.py reset PORT PHASE      RST (SO_LINGER 0) at PHASE: pre,
                                       version or kexinit
  faults_peer.py idle PORT N BATCH SECS   N connections that never send a
                                       byte; counts how they end within SECS
  faults_peer.py silent PORT           a listener that accepts and never speaks
  faults_peer.py garbage PORT          paramiko key exchange, then random
                                       bytes on the raw socket
  faults_peer.py midreset PORT USER PWFILE NAME   SFTP upload, RST mid-way
  faults_peer.py flip LPORT TPORT AFTER MACLEN    relay that flips one byte of
                                       the first client packet sent after
                                       AFTER encrypted bytes (ETM: clear length)
  faults_peer.py waitkex LPORT TPORT N  relay in front of a real sshd for N
                                       connections: passes the server's
                                       identification line, then holds what
                                       the server sends until the client's
                                       first binary packet (its KEXINIT) has
                                       passed, as a server that waits for the
                                       client's KEXINIT would
"""
import os
import select
import socket
import struct
import sys
import threading
import time
import warnings

warnings.filterwarnings("ignore")

VERSION = b"SSH-2.0-kbfaults_1.0\r\n"


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    print("local_port=%d" % s.getsockname()[1], flush=True)
    return s


def rst(s):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def kexinit():
    def nl(v):
        return struct.pack(">I", len(v)) + v
    payload = bytes([20]) + os.urandom(16)
    for v in (b"curve25519-sha256,diffie-hellman-group14-sha256,"
              b"diffie-hellman-group-exchange-sha256",
              b"ssh-ed25519,rsa-sha2-256,ssh-rsa",
              b"aes128-ctr", b"aes128-ctr", b"hmac-sha2-256", b"hmac-sha2-256",
              b"none", b"none", b"", b""):
        payload += nl(v)
    payload += b"\0" + struct.pack(">I", 0)
    pad = 4
    while (5 + len(payload) + pad) % 8:
        pad += 1
    body = bytes([pad]) + payload + b"\0" * pad
    return struct.pack(">I", len(body)) + body


def read_until(s, pred, secs=10):
    data = b""
    deadline = time.time() + secs
    s.settimeout(0.5)
    while time.time() < deadline and not pred(data):
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            continue
        if not chunk:
            break
        data += chunk
    return data


def has_kexinit(data):
    nl = data.find(b"\n")
    if nl < 0 or len(data) < nl + 6:
        return False
    return data[nl + 6] == 20


def cmd_stall(port):
    s = connect(port)
    start = time.time()
    s.sendall(VERSION)
    outcome = "open"
    s.settimeout(0.5)
    while time.time() - start < 20:
        try:
            if not s.recv(65536):
                outcome = "closed"
                break
        except socket.timeout:
            continue
        except ConnectionResetError:
            outcome = "reset"
            break
    print("outcome=%s elapsed=%.1f" % (outcome, time.time() - start), flush=True)


def cmd_reset(port, phase):
    s = connect(port)
    if phase in ("version", "kexinit"):
        s.sendall(VERSION)
        got = read_until(s, lambda d: b"\n" in d)
        print("server_version=%s" % got.split(b"\r")[0].decode("ascii", "replace"),
              flush=True)
    if phase == "kexinit":
        s.sendall(kexinit())
        got += read_until(s, lambda d: has_kexinit(got + d))
        print("server_kexinit=%s" % has_kexinit(got), flush=True)
    time.sleep(0.2)
    rst(s)


def cmd_idle(port, n, batch, secs):
    socks, refused = [], 0
    for i in range(0, n, batch):
        for _ in range(min(batch, n - i)):
            try:
                socks.append(socket.create_connection(("127.0.0.1", port), timeout=10))
            except OSError:
                refused += 1
        time.sleep(0.05)
    print("connected=%d refused=%d" % (len(socks), refused), flush=True)
    ends = {"closed": 0, "reset": 0, "data": 0}
    open_socks = list(socks)
    deadline = time.time() + secs
    while open_socks and time.time() < deadline:
        ready, _, _ = select.select(open_socks[:1000], [], [], 0.5)
        for s in ready:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                chunk = None
            if chunk:
                ends["data"] += 1  # an SSH version line; wait for the close
                continue
            ends["closed" if chunk == b"" else "reset"] += 1
            open_socks.remove(s)
            s.close()
    print("closed=%d reset=%d still_open=%d" % (ends["closed"], ends["reset"],
          len(open_socks)), flush=True)
    for s in open_socks:
        s.close()


def cmd_silent(port):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(16)
    connections = []
    while True:
        conn, _ = srv.accept()
        connections.append(conn)


def transport(port):
    import paramiko
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    print("local_port=%d" % s.getsockname()[1], flush=True)
    t = paramiko.Transport(s)
    t.banner_timeout = 10
    t.start_client(timeout=15)
    return s, t


def cmd_garbage(port):
    s, t = transport(port)
    print("kex_done=%s" % t.is_active(), flush=True)
    # Random bytes straight onto the socket, around paramiko's cipher.
    s.sendall(os.urandom(4096))
    deadline = time.time() + 10
    while t.is_active() and time.time() < deadline:
        time.sleep(0.1)
    print("closed_by_peer=%s" % ("no" if t.is_active() else "yes"), flush=True)
    os._exit(0)


def cmd_midreset(port, user, pwfile, name):
    s, t = transport(port)
    with open(pwfile, encoding="utf-8") as f:
        t.auth_password(user, f.read().strip())
    sftp = t.open_sftp_client()
    f = sftp.open(name, "wb")
    sent = 0
    while sent < 2 * 1048576:
        f.write(os.urandom(32768))
        sent += 32768
    f.flush()
    print("sent=%d" % sent, flush=True)
    # SO_LINGER 0 and exiting with the socket open makes the kernel send RST.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    os._exit(0)


def pump(src, dst, flipper=None):
    """Copies src to dst. EOF is passed on as a half-close, so that what
    the other direction still carries (a DISCONNECT, say) gets through;
    an error ends both directions."""
    try:
        while True:
            data = src.recv(65536)
            if not data:
                dst.shutdown(socket.SHUT_WR)
                return
            if flipper is not None:
                data = flipper(data)
            dst.sendall(data)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class Flipper:
    """Follows the client's packets: clear ones up to NEWKEYS (RFC 4253
    section 7.3), then encrypt-then-MAC ones whose length stays clear."""

    def __init__(self, after, maclen):
        self.buf = b""
        self.state = "version"
        self.after, self.maclen = after, maclen
        self.enc_bytes = 0
        self.flipped = False

    def __call__(self, data):
        self.buf += data
        out = b""
        while True:
            if self.state == "version":
                nl = self.buf.find(b"\n")
                if nl < 0:
                    break
                out += self.buf[:nl + 1]
                self.buf = self.buf[nl + 1:]
                self.state = "clear"
                continue
            if len(self.buf) < 5:
                break
            plen = struct.unpack(">I", self.buf[:4])[0]
            total = 4 + plen + (self.maclen if self.state == "enc" else 0)
            if len(self.buf) < total:
                break
            pkt = bytearray(self.buf[:total])
            self.buf = self.buf[total:]
            if self.state == "clear":
                if pkt[5] == 21:
                    self.state = "enc"
            else:
                self.enc_bytes += total
                if not self.flipped and self.enc_bytes > self.after and plen > 1024:
                    pkt[4 + plen // 2] ^= 0x40
                    self.flipped = True
                    print("flipped byte %d of a %d-byte packet after %d encrypted bytes"
                          % (4 + plen // 2, total, self.enc_bytes), flush=True)
            out += bytes(pkt)
        return out


def cmd_flip(lport, tport, after, maclen):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", lport))
    srv.listen(1)
    conn, _ = srv.accept()
    up = socket.create_connection(("127.0.0.1", tport), timeout=10)
    print("upstream_port=%d" % up.getsockname()[1], flush=True)
    conn.settimeout(None)
    up.settimeout(None)
    flipper = Flipper(after, maclen)
    a = threading.Thread(target=pump, args=(conn, up, flipper))
    b = threading.Thread(target=pump, args=(up, conn))
    a.start()
    b.start()
    a.join(60)
    b.join(5)
    print("flipped=%s encrypted_bytes=%d" % (flipper.flipped, flipper.enc_bytes), flush=True)


def waitkex_conn(conn, tport):
    """Relays one connection; the server's packets wait for the client's first."""
    up = socket.create_connection(("127.0.0.1", tport), timeout=10)
    up.settimeout(None)
    conn.settimeout(None)

    client_seen = b""
    server_held = b""
    line_sent = False
    released = False
    while not released:
        ready, _, _ = select.select([conn, up], [], [], 30)
        if not ready:
            print("waitkex: nothing for 30 s", flush=True)
            break
        if conn in ready:
            data = conn.recv(65536)
            if not data:
                break
            up.sendall(data)
            client_seen += data
            nl = client_seen.find(b"\n")
            if nl >= 0 and len(client_seen) >= nl + 5:
                plen = struct.unpack(">I", client_seen[nl + 1:nl + 5])[0]
                if len(client_seen) >= nl + 5 + plen:
                    released = True
        if up in ready:
            data = up.recv(65536)
            if not data:
                break
            server_held += data
            nl = server_held.find(b"\n")
            if not line_sent and nl >= 0:
                # The identification line goes out at once, packets wait.
                conn.sendall(server_held[:nl + 1])
                server_held = server_held[nl + 1:]
                line_sent = True
            if server_held and not released:
                print("waitkex: holding the server's packets", flush=True)

    conn.sendall(server_held)
    print("waitkex: the client's KEXINIT passed; relaying", flush=True)
    a = threading.Thread(target=pump, args=(conn, up))
    b = threading.Thread(target=pump, args=(up, conn))
    a.start()
    b.start()
    a.join()
    b.join()


def cmd_waitkex(lport, tport, count):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", lport))
    srv.listen(8)
    threads = []
    for _ in range(count):
        conn, _ = srv.accept()
        th = threading.Thread(target=waitkex_conn, args=(conn, tport))
        th.start()
        threads.append(th)
    for th in threads:
        th.join(120)


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "stall":
        cmd_stall(int(args[0]))
    elif cmd == "reset":
        cmd_reset(int(args[0]), args[1])
    elif cmd == "idle":
        cmd_idle(int(args[0]), int(args[1]), int(args[2]), float(args[3]))
    elif cmd == "silent":
        cmd_silent(int(args[0]))
    elif cmd == "garbage":
        cmd_garbage(int(args[0]))
    elif cmd == "midreset":
        cmd_midreset(int(args[0]), args[1], args[2], args[3])
    elif cmd == "waitkex":
        cmd_waitkex(int(args[0]), int(args[1]), int(args[2]))
    elif cmd == "flip":
        cmd_flip(int(args[0]), int(args[1]), int(args[2]), int(args[3]))
    else:
        sys.exit("unknown command " + cmd)


main()
