"""Local multi-host lab: Debian bookworm hosts booted with systemd-nspawn.

Run as `python -m tools.lab <command>` from the repository root; see docs/lab.md.
"""
