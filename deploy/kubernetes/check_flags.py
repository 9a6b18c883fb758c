#!/usr/bin/env python3
"""Checks that every flag the manifests pass to gzfleet or gzfleet-worker exists.

    check_flags.py BIN_DIR MANIFEST...

For each container whose command runs gzfleet (with its subcommand) or gzfleet-worker,
every option in its command and args (--long, --long=value, -s, -abc) must be one that
the binary's --help defines, from BIN_DIR. A flag renamed in the binary and not in the
manifests would otherwise surface only as a pod in CrashLoopBackOff on someone's
cluster. Only option lines of --help count: prose mentioning another command's flag
(gzfleet-worker's help names `gzfleet compress --pull`) defines nothing.

Exits 1 naming each missing flag with its file, object and container; 0 if all exist.
"""
import os
import re
import subprocess
import sys

import yaml

BINARIES = ("gzfleet", "gzfleet-worker")
# An option's definition in clap's help: indented, then "-s, --long" or "--long".
OPTION_LINE = re.compile(r"^\s+(?:(-[A-Za-z0-9]), )?(--[a-z0-9][a-z0-9-]*)?")
LONG = re.compile(r"^(--[a-z0-9][a-z0-9-]*)(=.*)?$")
SHORTS = re.compile(r"^-([A-Za-z]+)$")

_help_cache = {}


def defined_flags(bin_dir, argv_prefix):
    """The flags `argv_prefix --help` defines, or None if that command fails."""
    key = tuple(argv_prefix)
    if key not in _help_cache:
        exe = os.path.join(bin_dir, argv_prefix[0])
        proc = subprocess.run(
            [exe, *argv_prefix[1:], "--help"], capture_output=True, text=True
        )
        if proc.returncode != 0:
            _help_cache[key] = None
        else:
            flags = set()
            for line in proc.stdout.splitlines():
                m = OPTION_LINE.match(line)
                if m:
                    flags.update(f for f in m.groups() if f)
            _help_cache[key] = flags
    return _help_cache[key]


def flags_passed(args):
    """Every option in args, as it would be looked up in --help."""
    for arg in args:
        if arg == "--":
            return
        m = LONG.match(arg)
        if m:
            yield m.group(1)
            continue
        m = SHORTS.match(arg)
        if m:
            for letter in m.group(1):
                yield "-" + letter


def containers(obj):
    """Every container (and init container) of every pod template in obj."""
    if isinstance(obj, dict):
        for key in ("containers", "initContainers"):
            for c in obj.get(key) or []:
                if isinstance(c, dict):
                    yield c
        for value in obj.values():
            yield from containers(value)
    elif isinstance(obj, list):
        for value in obj:
            yield from containers(value)


def check_container(bin_dir, where, c):
    argv = [str(a) for a in (c.get("command") or []) + (c.get("args") or [])]
    image = str(c.get("image", ""))
    image_name = image.rsplit("/", 1)[-1].split(":", 1)[0].split("@", 1)[0]
    exe = os.path.basename(argv[0]) if argv else ""
    if exe not in BINARIES:
        if image_name == "gzfleet":
            # The image has no entrypoint: a gzfleet container must name its binary.
            return [f"{where}: runs the gzfleet image but its command names neither {' nor '.join(BINARIES)}"]
        return []
    rest = argv[1:]
    prefix = [exe]
    if exe == "gzfleet":
        if not rest or rest[0].startswith("-"):
            return [f"{where}: gzfleet without a subcommand"]
        prefix.append(rest[0])
        rest = rest[1:]
    defined = defined_flags(bin_dir, prefix)
    if defined is None:
        return [f"{where}: `{' '.join(prefix)} --help` failed: no such command in {bin_dir}"]
    return [
        f"{where}: `{' '.join(prefix)}` has no flag {flag}"
        for flag in flags_passed(rest)
        if flag not in defined
    ]


def main(argv):
    if len(argv) < 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    bin_dir, files = argv[1], argv[2:]
    errors, checked = [], 0
    for path in files:
        with open(path) as f:
            docs = list(yaml.safe_load_all(f))
        for doc in docs:
            if not isinstance(doc, dict):
                continue
            obj = f"{doc.get('kind')}/{(doc.get('metadata') or {}).get('name')}"
            for c in containers(doc.get("spec")):
                where = f"{path}: {obj}, container {c.get('name')}"
                errors += check_container(bin_dir, where, c)
                checked += 1
    for e in errors:
        print(e, file=sys.stderr)
    if errors:
        return 1
    print(f"check_flags: {checked} containers in {len(files)} files: every flag exists")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
