"""crosshost.network.release_install through real Ansible, against a real HTTP server.

The roles install flanneld and etcd with this module. Each test builds a release
tarball in the upstream layouts (flannel: binaries at the top; etcd: one top
directory), serves it from an HTTP server the test starts on loopback, and checks
the file system after each call: what is downloaded, unpacked and linked, that a
second call changes nothing, that check mode touches nothing, that a wrong checksum
installs nothing, and that hand-made damage is put right.
"""
import functools
import hashlib
import http.server
import io
import os
import tarfile
import threading

import pytest

FLANNELD = b"#!/bin/sh\necho flanneld v0.28.9\n"


def add_file(tar, name, data, mode=0o755):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    info.uid = info.gid = 4242     # the upstream build user: must not reach the host
    tar.addfile(info, io.BytesIO(data))


def make_tarball(path, files):
    with tarfile.open(str(path), "w:gz") as tar:
        for name, data in files:
            add_file(tar, name, data)
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


class Server(object):
    """A plain HTTP server on loopback serving one directory; counts the requests."""

    def __init__(self, directory):
        self.requests = []
        server = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args):
                server.requests.append(self.path)

        self.httpd = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(Handler, directory=str(directory)))
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    running = Server(served)
    yield served, running
    running.stop()


def flannel_args(tmp_path, url, checksum):
    return {
        "url": url,
        "checksum": checksum,
        "archive": str(tmp_path / "opt" / "flannel" / "flannel-v0.28.9-linux-amd64.tar.gz"),
        "dest": str(tmp_path / "opt" / "flannel" / "v0.28.9"),
        "members": ["flanneld"],
        "binaries": ["flanneld"],
        "links": [{"path": str(tmp_path / "bin" / "flanneld"), "binary": "flanneld"}],
    }


@pytest.fixture
def flannel_release(server):
    served, running = server
    checksum = make_tarball(served / "flannel.tar.gz", [
        ("flanneld", FLANNELD), ("mk-docker-opts.sh", b"#!/bin/sh\n"), ("README.md", b"readme\n")])
    return running, running.url + "/flannel.tar.gz", checksum


def test_downloads_unpacks_links_then_changes_nothing(tmp_path, module_runner, flannel_release):
    running, url, checksum = flannel_release
    args = flannel_args(tmp_path, url, checksum)
    first = module_runner("release_install", args)
    assert first["changed"] is True, first
    assert first["downloaded"] is True and first["unpacked"] is True, first
    assert first["changed_links"] == [args["links"][0]["path"]]
    assert first["archive_checksum"] == checksum
    dest = tmp_path / "opt" / "flannel" / "v0.28.9"
    assert (dest / "flanneld").read_bytes() == FLANNELD
    assert os.stat(str(dest / "flanneld")).st_mode & 0o777 == 0o755
    assert os.stat(str(dest / "flanneld")).st_uid == os.getuid()      # --no-same-owner
    assert sorted(os.listdir(str(dest))) == ["flanneld"]                # only the member asked for
    assert os.readlink(args["links"][0]["path"]) == str(dest / "flanneld")
    assert len(running.requests) == 1

    second = module_runner("release_install", args)
    assert second["changed"] is False, second
    assert second["downloaded"] is False and second["unpacked"] is False and second["changed_links"] == []
    assert len(running.requests) == 1, "an installed release must not be downloaded again"


def test_check_mode_touches_nothing_and_diff_shows_the_plan(tmp_path, module_runner, flannel_release):
    running, url, checksum = flannel_release
    args = flannel_args(tmp_path, url, checksum)
    checked = module_runner("release_install", args, check=True, diff=True)
    assert checked["changed"] is True and checked["downloaded"] is True, checked
    assert not (tmp_path / "opt").exists() and not (tmp_path / "bin").exists()
    assert running.requests == []
    assert "archive: (absent)" in checked["diff"]["before"]
    assert "archive: %s" % checksum in checked["diff"]["after"]
    assert "link %s -> %s" % (args["links"][0]["path"], args["dest"] + "/flanneld") in checked["diff"]["after"]

    module_runner("release_install", args)
    checked = module_runner("release_install", args, check=True, diff=True)
    assert checked["changed"] is False, checked
    assert checked["diff"]["before"] == checked["diff"]["after"]


def test_a_wrong_checksum_installs_nothing(tmp_path, module_runner, flannel_release):
    running, url, checksum = flannel_release
    wrong = "sha256:" + "0" * 64
    failed = module_runner("release_install", flannel_args(tmp_path, url, wrong))
    assert failed.get("failed") is True, failed
    assert "checksum" in failed["msg"] and checksum in failed["msg"] and "nothing was installed" in failed["msg"]
    archive_dir = tmp_path / "opt" / "flannel"
    assert [name for name in os.listdir(str(archive_dir)) if name.endswith(".tar.gz") or ".tar.gz." in name] == []
    assert not (archive_dir / "v0.28.9" / "flanneld").exists()
    assert not (tmp_path / "bin" / "flanneld").exists()


def test_damage_by_hand_is_put_right(tmp_path, module_runner, flannel_release):
    running, url, checksum = flannel_release
    args = flannel_args(tmp_path, url, checksum)
    module_runner("release_install", args)
    link = args["links"][0]["path"]
    # The link points elsewhere and the binary is gone: both come back, no download.
    os.unlink(link)
    os.symlink("/bin/true", link)
    os.unlink(os.path.join(args["dest"], "flanneld"))
    mended = module_runner("release_install", args)
    assert mended["changed"] is True and mended["unpacked"] is True and mended["downloaded"] is False, mended
    assert mended["changed_links"] == [link]
    assert os.readlink(link) == os.path.join(args["dest"], "flanneld")
    assert len(running.requests) == 1
    # A corrupt archive is downloaded again (and unpacked again).
    with open(args["archive"], "ab") as handle:
        handle.write(b"junk")
    mended = module_runner("release_install", args)
    assert mended["downloaded"] is True and mended["unpacked"] is True, mended
    assert hashlib.sha256(open(args["archive"], "rb").read()).hexdigest() == checksum.split(":")[1]
    assert len(running.requests) == 2
    # A regular file where the link goes is replaced by the link.
    os.unlink(link)
    with open(link, "w") as handle:
        handle.write("old copy\n")
    mended = module_runner("release_install", args)
    assert mended["changed_links"] == [link] and os.readlink(link) == os.path.join(args["dest"], "flanneld")


def test_air_gapped_archive_in_place_with_strip_components(tmp_path, module_runner):
    """The etcd layout: one top directory, every member unpacked, no url (copied before)."""
    dest = tmp_path / "opt" / "etcd" / "v3.5.1"
    dest.mkdir(parents=True)
    archive = dest / "etcd.tar.gz"
    checksum = make_tarball(archive, [("etcd-v3.5.1-linux-amd64/etcd", b"#!/bin/sh\necho etcd\n"),
                                      ("etcd-v3.5.1-linux-amd64/etcdctl", b"#!/bin/sh\necho etcdctl\n"),
                                      ("etcd-v3.5.1-linux-amd64/README.md", b"readme\n")])
    args = {"checksum": checksum.split(":")[1], "archive": str(archive), "dest": str(dest),
            "strip_components": 1, "binaries": ["etcd", "etcdctl"],
            "links": [{"path": str(tmp_path / "bin" / name), "binary": name} for name in ("etcd", "etcdctl")]}
    done = module_runner("release_install", args)
    assert done["changed"] is True and done["downloaded"] is False and done["unpacked"] is True, done
    assert (dest / "etcd").read_bytes() == b"#!/bin/sh\necho etcd\n"
    assert (dest / "README.md").exists()
    assert [os.readlink(str(tmp_path / "bin" / name)) for name in ("etcd", "etcdctl")] == \
        [str(dest / "etcd"), str(dest / "etcdctl")]
    assert module_runner("release_install", args)["changed"] is False

    # Without a url, a wrong archive is refused with what to do, and nothing moves.
    os.unlink(str(tmp_path / "bin" / "etcd"))
    archive.write_bytes(b"not the release")
    failed = module_runner("release_install", args)
    assert failed.get("failed") is True and "archive:" in failed["msg"] and "copy the release tarball" in failed["msg"], failed
    assert not os.path.lexists(str(tmp_path / "bin" / "etcd"))


def test_bad_input_names_the_field(tmp_path, module_runner, flannel_release):
    running, url, checksum = flannel_release
    cases = [
        # First: later cases leave the right archive in place, and then nothing is fetched.
        (dict(url=url + "/missing.tar.gz"), "url: downloading"),
        (dict(checksum=""), "checksum: a download needs a pinned checksum"),
        (dict(checksum="sha256:abc"), "checksum: 'sha256:abc' is not a sha256 digest"),
        (dict(checksum="crc99:" + "0" * 64), "checksum: unknown algorithm 'crc99'"),
        (dict(links=[{"path": str(tmp_path / "bin" / "x"), "binary": "nope"}]), "links[0].binary: 'nope'"),
        (dict(binaries=["flanneld", "flanneld-missing"]), "binaries: flanneld-missing not in"),
    ]
    for change, message in cases:
        args = dict(flannel_args(tmp_path, url, checksum), **change)
        failed = module_runner("release_install", args)
        assert failed.get("failed") is True and message in failed["msg"], (change, failed)
        assert not os.path.lexists(str(tmp_path / "bin" / "flanneld")), change
    (tmp_path / "bin" / "flanneld").mkdir(parents=True)
    failed = module_runner("release_install", flannel_args(tmp_path, url, checksum))
    assert failed.get("failed") is True and "links[0].path" in failed["msg"] and "is a directory" in failed["msg"]
