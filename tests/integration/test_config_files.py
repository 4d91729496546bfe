"""crosshost.network.config_files through real Ansible on a temporary directory.

The roles write their units and helpers with this module; these tests check the
file system after each call: content, modes, check mode writes nothing, a failed
validation replaces nothing, and a second call changes nothing.
"""
import os
import stat

UNIT = "[Unit]\nDescription=crosshost config_files test\n\n[Service]\nExecStart=/bin/true\n"


def mode_of(path):
    return stat.S_IMODE(os.stat(str(path)).st_mode)


def args_for(tmp_path, unit=UNIT, unit_mode="0644", validate=None):
    unit_entry = {"path": str(tmp_path / "etc" / "hello.service"), "content": unit, "mode": unit_mode}
    if validate:
        unit_entry["validate"] = validate
    return {
        "directories": [{"path": str(tmp_path / "etc"), "mode": "0750"},
                        {"path": str(tmp_path / "lib" / "helpers"), "mode": "0755"}],
        "files": [unit_entry,
                  {"path": str(tmp_path / "lib" / "helpers" / "hello"), "content": "#!/bin/sh\necho hi\n",
                   "mode": "0755"}],
    }


def test_creates_then_changes_nothing(tmp_path, module_runner):
    args = args_for(tmp_path)
    first = module_runner("config_files", args)
    assert first["changed"] is True, first
    assert first["changed_paths"] == [str(tmp_path / "etc"), str(tmp_path / "lib" / "helpers"),
                                      str(tmp_path / "etc" / "hello.service"),
                                      str(tmp_path / "lib" / "helpers" / "hello")]
    assert first["created_paths"] == first["changed_paths"]
    assert (tmp_path / "etc" / "hello.service").read_text() == UNIT
    assert mode_of(tmp_path / "etc") == 0o750
    assert mode_of(tmp_path / "etc" / "hello.service") == 0o644
    assert mode_of(tmp_path / "lib" / "helpers" / "hello") == 0o755
    second = module_runner("config_files", args)
    assert second["changed"] is False, second
    assert second["changed_paths"] == [] and second["created_paths"] == []


def test_check_mode_writes_nothing_and_diff_shows_content(tmp_path, module_runner):
    checked = module_runner("config_files", args_for(tmp_path), check=True, diff=True)
    assert checked["changed"] is True
    assert not (tmp_path / "etc").exists()
    # what a role reads to skip starting a unit that check mode did not write
    assert str(tmp_path / "etc" / "hello.service") in checked["created_paths"]
    afters = [d.get("after") for d in checked["diff"]]
    assert UNIT in afters

    module_runner("config_files", args_for(tmp_path))
    edited = UNIT.replace("/bin/true", "/bin/false")
    checked = module_runner("config_files", args_for(tmp_path, unit=edited), check=True, diff=True)
    assert checked["changed_paths"] == [str(tmp_path / "etc" / "hello.service")]
    assert checked["created_paths"] == []        # changed, not created
    assert checked["diff"] == [{"before_header": str(tmp_path / "etc" / "hello.service"),
                                "after_header": str(tmp_path / "etc" / "hello.service"),
                                "before": UNIT, "after": edited}]
    assert (tmp_path / "etc" / "hello.service").read_text() == UNIT


def test_hand_edits_are_put_right(tmp_path, module_runner):
    args = args_for(tmp_path)
    module_runner("config_files", args)
    helper = tmp_path / "lib" / "helpers" / "hello"
    helper.write_text("#!/bin/sh\necho edited\n")
    os.chmod(str(tmp_path / "etc" / "hello.service"), 0o666)
    result = module_runner("config_files", args, diff=True)
    assert sorted(result["changed_paths"]) == sorted([str(helper), str(tmp_path / "etc" / "hello.service")])
    assert result["created_paths"] == []
    assert helper.read_text() == "#!/bin/sh\necho hi\n"
    assert mode_of(helper) == 0o755
    assert mode_of(tmp_path / "etc" / "hello.service") == 0o644
    assert module_runner("config_files", args)["changed"] is False


def test_validate_gets_a_same_named_copy_and_a_failure_replaces_nothing(tmp_path, module_runner):
    # The command sees a copy named hello.service (what systemd-analyze verify needs).
    names = tmp_path / "validated-names"
    validate = "/bin/sh -c 'basename \"$0\" >> %s && grep -q ExecStart= \"$0\"' %%s" % names
    assert module_runner("config_files", args_for(tmp_path, validate=validate))["changed"] is True
    assert names.read_text() == "hello.service\n"

    broken = UNIT.replace("ExecStart=/bin/true", "ExecStop=/bin/true")
    failed = module_runner("config_files", args_for(tmp_path, unit=broken, validate=validate))
    assert failed.get("failed") is True
    assert "files[0]" in failed["msg"] and "failed validation" in failed["msg"]
    assert (tmp_path / "etc" / "hello.service").read_text() == UNIT


def test_systemd_analyze_verify_rejects_a_bad_unit(tmp_path, module_runner):
    bad = UNIT.replace("ExecStart=/bin/true", "ExecStart=relative/path")
    failed = module_runner("config_files", args_for(tmp_path, unit=bad, validate="systemd-analyze verify %s"))
    assert failed.get("failed") is True, failed
    assert not (tmp_path / "etc" / "hello.service").exists()
    good = module_runner("config_files", args_for(tmp_path, validate="systemd-analyze verify %s"))
    assert good["changed"] is True, good


def test_bad_input_names_the_field(tmp_path, module_runner):
    args = args_for(tmp_path, unit_mode="644x")
    failed = module_runner("config_files", args)
    assert failed.get("failed") is True
    assert "files[0].mode" in failed["msg"] and "octal" in failed["msg"]
    assert not (tmp_path / "etc").exists()
    assert not (tmp_path / "etc" / "hello.service").exists()

    args = args_for(tmp_path, validate="true")
    failed = module_runner("config_files", args)
    assert "files[0].validate" in failed["msg"] and "%s" in failed["msg"]

    # A file whose directory is neither there nor listed: refused up front, so the
    # listed directory before it is not made either. Check mode cannot know whether an
    # earlier task makes it, and reports the change.
    args = {"directories": [{"path": str(tmp_path / "made"), "mode": "0755"}],
            "files": [{"path": str(tmp_path / "nowhere" / "x"), "content": "x\n", "mode": "0644"}]}
    failed = module_runner("config_files", args)
    assert failed.get("failed") is True, failed
    assert "files[0]" in failed["msg"] and "list it under directories" in failed["msg"]
    assert not (tmp_path / "made").exists()
    checked = module_runner("config_files", args, check=True)
    assert checked["changed"] is True and not checked.get("failed"), checked
    assert not (tmp_path / "made").exists() and not (tmp_path / "nowhere").exists()
    # Listed (with its missing parent), a file goes in.
    args = {"directories": [{"path": str(tmp_path / "nowhere" / "deeper"), "mode": "0755"}],
            "files": [{"path": str(tmp_path / "nowhere" / "deeper" / "x"), "content": "x\n", "mode": "0644"}]}
    done = module_runner("config_files", args)
    assert done["changed"] is True and (tmp_path / "nowhere" / "deeper" / "x").read_text() == "x\n", done

    (tmp_path / "plain").write_text("")
    failed = module_runner("config_files", {"directories": [{"path": str(tmp_path / "plain"), "mode": "0755"}]})
    assert "is not a directory" in failed["msg"]


def test_check_mode_does_not_validate(tmp_path, module_runner):
    # On a fresh host the unit's binary is not installed yet in check mode.
    ran = tmp_path / "validate-ran"
    checked = module_runner("config_files", args_for(tmp_path, validate="touch %s %%s" % ran), check=True)
    assert checked["changed"] is True and not checked.get("failed"), checked
    assert not ran.exists()


KEY = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIIcrosshostconfigfilestestkeymaterial0\n-----END PRIVATE KEY-----\n"


def secret_args(tmp_path, key=KEY):
    return {"directories": [{"path": str(tmp_path / "pki"), "mode": "0750"}],
            "files": [{"path": str(tmp_path / "pki" / "client.key"), "secret_content": key, "mode": "0600"},
                      {"path": str(tmp_path / "pki" / "client.crt"), "content": "certificate\n", "mode": "0644"}]}


def test_secret_content_is_written_but_never_shown(tmp_path, module_runner):
    key_path = tmp_path / "pki" / "client.key"
    checked = module_runner("config_files", secret_args(tmp_path), check=True, diff=True)
    assert checked["changed"] is True and not key_path.parent.exists()
    assert KEY not in repr(checked), checked
    assert {"before_header": str(key_path), "after_header": str(key_path), "before": "(absent)\n",
            "after": "(new secret content, not shown)\n"} in checked["diff"]

    written = module_runner("config_files", secret_args(tmp_path), diff=True)
    assert written["changed_paths"] == [str(tmp_path / "pki"), str(key_path), str(tmp_path / "pki" / "client.crt")]
    assert key_path.read_text() == KEY and mode_of(key_path) == 0o600
    assert KEY not in repr(written), written
    assert module_runner("config_files", secret_args(tmp_path))["changed"] is False

    # A new key: the diff names the file and shows neither the old nor the new key.
    new_key = KEY.replace("material0", "material1")
    changed = module_runner("config_files", secret_args(tmp_path, key=new_key), diff=True)
    assert changed["changed_paths"] == [str(key_path)]
    assert changed["diff"] == [{"before_header": str(key_path), "after_header": str(key_path),
                                "before": "(secret content, not shown)\n",
                                "after": "(new secret content, not shown)\n"}]
    assert KEY not in repr(changed) and new_key not in repr(changed), changed
    assert key_path.read_text() == new_key


def test_content_and_secret_content_exclude_each_other(tmp_path, module_runner):
    both = secret_args(tmp_path)
    both["files"][0]["content"] = "plain\n"
    failed = module_runner("config_files", both)
    assert failed.get("failed") is True and "mutually exclusive" in failed["msg"], failed
    neither = secret_args(tmp_path)
    del neither["files"][0]["secret_content"]
    failed = module_runner("config_files", neither)
    assert failed.get("failed") is True and "one of the following is required" in failed["msg"], failed
    assert not (tmp_path / "pki").exists()
