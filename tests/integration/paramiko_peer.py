"""Paramiko peers for the bridge integration tests (run with /usr/bin/python3).

  paramiko_peer.py client PORT USER PASSWORD_FILE PUT_LOCAL PUT_REMOTE GET_REMOTE GET_LOCAL
      Logs in with the FI 4.0(2a)+ algorithms paramiko supports, uploads
      PUT_LOCAL and downloads GET_REMOTE over SFTP, and prints the agreed
      algorithms.
  paramiko_peer.py none-auth PORT USER
      Tries the "none" authentication method (RFC 4252 section 5.2) and
      prints the methods the server lists. Exits 0 only when it was refused.
  paramiko_peer.py server PORT ROOT USER PASSWORD_FILE
      A legacy-only SSH server on 127.0.0.1:PORT: key exchange
      diffie-hellman-group1-sha1, cipher 3des-cbc, MAC hmac-md5, host key
      ssh-dss, password login for USER. It serves the sftp subsystem from the
      folder ROOT and runs "scp -t" and "scp -f" there with the real scp.

Passwords are read from a file and never printed.
"""
import hmac
import os
import shlex
import socket
import subprocess
import sys
import threading
import warnings

warnings.filterwarnings("ignore")  # TripleDES and DSA deprecation notices
import paramiko  # noqa: E402

TIMEOUT = 30
FI_KEX = ("diffie-hellman-group-exchange-sha256", "diffie-hellman-group16-sha512",
          "diffie-hellman-group18-sha512")
FI_CIPHERS = ("aes128-ctr", "aes192-ctr", "aes256-ctr")
FI_MACS = ("hmac-sha2-256", "hmac-sha2-512")


def read_secret(path):
    with open(path, encoding="utf-8") as f:
        return f.read().strip()


def connect(port):
    sock = socket.create_connection(("127.0.0.1", int(port)), timeout=TIMEOUT)
    transport = paramiko.Transport(sock)
    return transport


def run_client(port, user, password_file, put_local, put_remote, get_remote, get_local):
    transport = connect(port)
    opts = transport.get_security_options()
    opts.kex = [k for k in FI_KEX if k in paramiko.Transport._kex_info]
    opts.ciphers = FI_CIPHERS
    opts.digests = FI_MACS
    transport.start_client(timeout=TIMEOUT)
    transport.auth_password(user, read_secret(password_file))
    sftp = paramiko.SFTPClient.from_transport(transport)
    sftp.get_channel().settimeout(TIMEOUT)
    sftp.put(put_local, put_remote)
    sftp.get(get_remote, get_local)
    sftp.close()
    print("agreed kex %s, host key %s, cipher %s, MAC %s" % (
        type(transport.kex_engine).__name__, transport.host_key_type,
        transport.local_cipher, transport.local_mac))
    transport.close()


def run_none_auth(port, user):
    transport = connect(port)
    transport.start_client(timeout=TIMEOUT)
    try:
        transport.auth_none(user)
    except paramiko.BadAuthenticationType as e:
        print("none refused; server lists: %s" % ",".join(e.allowed_types))
        return 0
    except paramiko.AuthenticationException as e:
        print("none refused: %s" % e)
        return 0
    finally:
        authenticated = transport.is_authenticated()
        transport.close()
    print("none authentication SUCCEEDED (authenticated=%s)" % authenticated)
    return 1


class StubSFTPHandle(paramiko.SFTPHandle):
    def stat(self):
        try:
            return paramiko.SFTPAttributes.from_stat(os.fstat(self.readfile.fileno()))
        except OSError as e:
            return paramiko.SFTPServer.convert_errno(e.errno)

    def chattr(self, attr):
        return paramiko.SFTP_OK


class StubSFTPServer(paramiko.SFTPServerInterface):
    """Serves the folder ROOT as "/". Paths are normalized under it, but symbolic
    links inside ROOT are followed."""

    root = "/nonexistent"

    def _local(self, path):
        return os.path.join(self.root, self.canonicalize(path).lstrip("/"))

    def canonicalize(self, path):
        return os.path.normpath("/" + path).replace("//", "/")

    def list_folder(self, path):
        local = self._local(path)
        try:
            out = []
            for name in os.listdir(local):
                attr = paramiko.SFTPAttributes.from_stat(os.lstat(os.path.join(local, name)))
                attr.filename = name
                out.append(attr)
            return out
        except OSError as e:
            return paramiko.SFTPServer.convert_errno(e.errno)

    def stat(self, path):
        try:
            return paramiko.SFTPAttributes.from_stat(os.stat(self._local(path)))
        except OSError as e:
            return paramiko.SFTPServer.convert_errno(e.errno)

    def lstat(self, path):
        try:
            return paramiko.SFTPAttributes.from_stat(os.lstat(self._local(path)))
        except OSError as e:
            return paramiko.SFTPServer.convert_errno(e.errno)

    def open(self, path, flags, attr):
        local = self._local(path)
        mode = getattr(attr, "st_mode", None) or 0o644
        try:
            fd = os.open(local, flags | getattr(os, "O_BINARY", 0), mode & 0o777)
        except OSError as e:
            return paramiko.SFTPServer.convert_errno(e.errno)
        if flags & os.O_WRONLY:
            fstr = "ab" if flags & os.O_APPEND else "wb"
        elif flags & os.O_RDWR:
            fstr = "a+b" if flags & os.O_APPEND else "r+b"
        else:
            fstr = "rb"
        handle = StubSFTPHandle(flags)
        handle.filename = local
        handle.readfile = handle.writefile = os.fdopen(fd, fstr)
        return handle

    def remove(self, path):
        try:
            os.remove(self._local(path))
        except OSError as e:
            return paramiko.SFTPServer.convert_errno(e.errno)
        return paramiko.SFTP_OK

    def rename(self, oldpath, newpath):
        try:
            os.rename(self._local(oldpath), self._local(newpath))
        except OSError as e:
            return paramiko.SFTPServer.convert_errno(e.errno)
        return paramiko.SFTP_OK

    def posix_rename(self, oldpath, newpath):
        return self.rename(oldpath, newpath)

    def mkdir(self, path, attr):
        try:
            os.mkdir(self._local(path))
        except OSError as e:
            return paramiko.SFTPServer.convert_errno(e.errno)
        return paramiko.SFTP_OK

    def rmdir(self, path):
        try:
            os.rmdir(self._local(path))
        except OSError as e:
            return paramiko.SFTPServer.convert_errno(e.errno)
        return paramiko.SFTP_OK

    def chattr(self, path, attr):
        return paramiko.SFTP_OK


def pump_scp(channel, argv, root):
    """Runs scp in root with the channel as its stdin and stdout."""
    proc = subprocess.Popen(argv, cwd=root, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def to_proc():
        try:
            while True:
                data = channel.recv(32768)
                if not data:
                    break
                proc.stdin.write(data)
                proc.stdin.flush()
        except (OSError, socket.timeout):
            pass
        finally:
            try:
                proc.stdin.close()
            except OSError:
                pass

    reader = threading.Thread(target=to_proc, daemon=True)
    reader.start()
    while True:
        data = proc.stdout.read1(32768)
        if not data:
            break
        channel.sendall(data)
    err = proc.stderr.read()
    if err:
        channel.sendall_stderr(err)
    status = proc.wait()
    channel.send_exit_status(status)
    channel.shutdown_write()
    channel.close()


class LegacyServer(paramiko.ServerInterface):
    def __init__(self, user, password, root):
        self.user = user
        self.password = password
        self.root = root

    def get_allowed_auths(self, username):
        return "password"

    def check_auth_password(self, username, password):
        if username == self.user and hmac.compare_digest(password.encode(),
                                                         self.password.encode()):
            return paramiko.AUTH_SUCCESSFUL
        return paramiko.AUTH_FAILED

    def check_channel_request(self, kind, chanid):
        if kind == "session":
            return paramiko.OPEN_SUCCEEDED
        return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_exec_request(self, channel, command):
        argv = shlex.split(command.decode("utf-8", "replace"))
        if not argv or argv[0] != "scp" or not ({"-t", "-f"} & set(argv)):
            return False
        threading.Thread(target=pump_scp, args=(channel, argv, self.root),
                         daemon=True).start()
        return True


def serve_one(conn, host_key, user, password, root):
    transport = paramiko.Transport(conn)
    opts = transport.get_security_options()
    opts.kex = ("diffie-hellman-group1-sha1",)
    opts.ciphers = ("3des-cbc",)
    opts.digests = ("hmac-md5",)
    opts.key_types = ("ssh-dss",)
    transport.add_server_key(host_key)
    transport.set_subsystem_handler("sftp", paramiko.SFTPServer, StubSFTPServer)
    try:
        transport.start_server(server=LegacyServer(user, password, root))
        # Accepted channels are kept referenced: paramiko closes a channel
        # when its object is garbage collected.
        channels = []
        while transport.is_active():
            channel = transport.accept(1)
            if channel is not None:
                channels.append(channel)
    except (paramiko.SSHException, EOFError, OSError) as e:
        print("session ended: %s" % e, file=sys.stderr, flush=True)
    finally:
        transport.close()


def run_server(port, root, user, password_file):
    StubSFTPServer.root = os.path.abspath(root)
    password = read_secret(password_file)
    host_key = paramiko.DSSKey.generate(1024)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", int(port)))
    listener.listen(16)
    print("listening on 127.0.0.1:%s, host key ssh-dss %s" % (
        port, host_key.get_fingerprint().hex()), file=sys.stderr, flush=True)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve_one, args=(conn, host_key, user, password, root),
                         daemon=True).start()


def main():
    if os.environ.get("KBPLOG"):
        paramiko.util.log_to_file(os.environ["KBPLOG"])
    cmd = sys.argv[1]
    if cmd == "client":
        run_client(*sys.argv[2:9])
        return 0
    if cmd == "none-auth":
        return run_none_auth(*sys.argv[2:4])
    if cmd == "server":
        run_server(*sys.argv[2:6])
        return 0
    print("usage: see the docstring of %s" % sys.argv[0], file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
