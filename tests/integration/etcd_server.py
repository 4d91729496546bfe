"""A real etcd (Debian's etcd-server) on loopback, started and stopped by a test.

Plain HTTP, HTTP with the v2 API enabled, or TLS with client-certificate
authentication (certificates generated here with openssl).
"""
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_pki(directory):
    """A CA, a server certificate for 127.0.0.1 and a client certificate."""
    def run(*argv):
        subprocess.run(argv, cwd=directory, check=True, capture_output=True)

    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-subj", "/CN=crosshost-test-ca", "-keyout", "ca.key", "-out", "ca.crt")
    with open(os.path.join(directory, "server.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n")
    with open(os.path.join(directory, "client.ext"), "w") as f:
        f.write("extendedKeyUsage=clientAuth\n")
    for name in ("server", "client"):
        run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=%s" % name,
            "-keyout", name + ".key", "-out", name + ".csr")
        run("openssl", "x509", "-req", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-extfile", name + ".ext", "-out", name + ".crt")
    for name in ("ca.key", "server.key", "client.key"):
        os.chmod(os.path.join(directory, name), 0o600)
    return {name: os.path.join(directory, name + ".crt") for name in ("ca", "server", "client")} | {
        "client_key": os.path.join(directory, "client.key"),
        "server_key": os.path.join(directory, "server.key"),
    }


class EtcdServer:
    def __init__(self, tls=False, enable_v2=False):
        self.tmp = tempfile.mkdtemp(prefix="crosshost-etcd-")
        self.client_port, self.peer_port = free_port(), free_port()
        self.tls = tls
        self.pki = make_pki(self.tmp) if tls else None
        scheme = "https" if tls else "http"
        self.url = "%s://127.0.0.1:%d" % (scheme, self.client_port)
        peer = "http://127.0.0.1:%d" % self.peer_port
        argv = ["etcd", "--name", "test", "--data-dir", os.path.join(self.tmp, "data"),
                "--listen-client-urls", self.url, "--advertise-client-urls", self.url,
                "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                "--initial-cluster", "test=" + peer, "--initial-cluster-state", "new",
                "--log-outputs", "stderr"]
        if enable_v2:
            argv.append("--enable-v2")
        if tls:
            argv += ["--cert-file", self.pki["server"], "--key-file", self.pki["server_key"],
                     "--trusted-ca-file", self.pki["ca"], "--client-cert-auth"]
        self.log = open(os.path.join(self.tmp, "etcd.log"), "w")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT)
        self._wait_ready()

    def _wait_ready(self, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("etcd exited: %s" % open(self.log.name).read()[-2000:])
            if self.ctl("endpoint", "health", check=False).returncode == 0:
                return
            time.sleep(0.2)
        raise RuntimeError("etcd did not become healthy: %s" % open(self.log.name).read()[-2000:])

    def ctl(self, *args, check=True, v2=False):
        env = dict(os.environ, ETCDCTL_API="2" if v2 else "3")
        argv = ["etcdctl"]
        if v2:
            argv += ["--endpoints", self.url]
        else:
            argv += ["--endpoints", self.url]
            if self.tls:
                argv += ["--cacert", self.pki["ca"], "--cert", self.pki["client"],
                         "--key", self.pki["client_key"]]
        return subprocess.run(argv + list(args), env=env, check=check, capture_output=True, text=True)

    def get(self, key):
        """The value at key (v3 API), or None."""
        out = self.ctl("get", key, "--print-value-only").stdout
        return out[:-1] if out else None

    def get_v2(self, key):
        try:
            with urllib.request.urlopen(self.url + "/v2/keys" + key) as answer:
                return json.load(answer)["node"]["value"]
        except urllib.error.HTTPError:
            return None

    def put(self, key, value, lease=None):
        args = ["put", key, value]
        if lease:
            args.append("--lease=" + lease)
        self.ctl(*args)

    def grant_lease(self, ttl=600):
        out = self.ctl("lease", "grant", str(ttl)).stdout  # "lease 694d7c... granted with TTL(600s)"
        return out.split()[1]

    def dump(self):
        """Every key and value, for asserting that nothing changed."""
        return self.ctl("get", "", "--prefix").stdout

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)
