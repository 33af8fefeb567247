#!/usr/bin/env python3
"""nacos-sdk-python 2.0.11 (HTTP v1) as `reader`, whose role may only read one group (made by
tests/auth_clients.rs): it lists the group's service and reads its config, and is refused
(403, raised by the SDK) when it registers, publishes, or reads another group.

Usage: py_auth_reader.py --server 127.0.0.1:PORT --group GROUP
Prints PY_AUTH_READER_OK and exits 0 on success; prints what went wrong and exits 1 otherwise.
"""

import argparse
import sys
import traceback

import nacos


class Failure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def refused(call):
    try:
        call()
    except Exception:  # NacosException("Insufficient privilege.") on a 403
        return True
    return False


def run(args):
    client = nacos.NacosClient(args.server, username="reader", password="reader-pw")
    hosts = client.list_naming_instance("perm-svc", group_name=args.group).get("hosts", [])
    check(any(h.get("port") == 8100 for h in hosts), "the readable service is not listed: %r" % hosts)
    check(client.get_config("perm.cfg", args.group, no_snapshot=True) == "readable",
          "the readable config was not read")
    check(refused(lambda: client.add_naming_instance("perm-svc", "10.9.9.9", 8102,
                                                     group_name=args.group)),
          "a reader registered")
    check(refused(lambda: client.publish_config("perm.cfg", args.group, "overwritten")),
          "a reader published")
    check(refused(lambda: client.get_config("perm.cfg", "OTHER_GROUP", no_snapshot=True)),
          "a reader read a group it has no permission on")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--group", required=True)
    args = parser.parse_args()
    try:
        run(args)
    except Exception:
        traceback.print_exc()
        sys.exit(1)
    print("PY_AUTH_READER_OK")


if __name__ == "__main__":
    main()
