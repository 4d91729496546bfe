"""The lab's apt repository writer (tools/lab/image.py: write_apt_repo), on .debs
built here with dpkg-deb."""
import email.utils
import hashlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from tools.lab.image import write_apt_repo  # noqa: E402
from tools.lab.util import LabError  # noqa: E402


def make_deb(where, package, version):
    root = where / f"src-{package}"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN/control").write_text(
        f"Package: {package}\nVersion: {version}\nArchitecture: all\n"
        "Maintainer: Lab <lab@example.invalid>\nDescription: test package\n")
    # apt's archive names carry an epoch as %3a
    deb = where / f"{package}_{version.replace(':', '%3a')}_all.deb"
    subprocess.run(["dpkg-deb", "--build", "--root-owner-group", str(root), str(deb)],
                   check=True, capture_output=True)
    return deb


def test_repo_indexes_every_package_under_a_mirror_name(tmp_path):
    archives = tmp_path / "archives"
    archives.mkdir()
    make_deb(archives, "alpha", "1:2.0-1")
    make_deb(archives, "beta", "0.5")
    repo = tmp_path / "repo"
    write_apt_repo(archives, repo)

    assert sorted(p.name for p in repo.glob("*.deb")) == ["alpha_2.0-1_all.deb", "beta_0.5_all.deb"]
    assert not list(archives.glob("*.deb")), "the .debs are moved, not copied"
    stanzas = [dict(line.split(": ", 1) for line in block.splitlines())
               for block in (repo / "Packages").read_text().strip().split("\n\n")]
    assert [s["Package"] for s in stanzas] == ["alpha", "beta"]
    for stanza in stanzas:
        deb = repo / stanza["Filename"]
        assert stanza["Filename"].startswith("./") and deb.is_file()
        assert int(stanza["Size"]) == deb.stat().st_size
        assert stanza["SHA256"] == hashlib.sha256(deb.read_bytes()).hexdigest()
    packages = (repo / "Packages").read_bytes()
    release = (repo / "Release").read_text()
    assert f" {hashlib.sha256(packages).hexdigest()} {len(packages)} Packages" in release
    # apt warns about a Release file without a parseable Date.
    date = re.search(r"^Date: (.+)$", release, re.M)
    assert date and email.utils.parsedate_to_datetime(date.group(1)).tzinfo is not None, release


def test_an_empty_download_is_an_error(tmp_path):
    (tmp_path / "archives").mkdir()
    with pytest.raises(LabError, match="no packages"):
        write_apt_repo(tmp_path / "archives", tmp_path / "repo")
