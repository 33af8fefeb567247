#!/usr/bin/env python3
"""Drive a nacore server that has auth on with the real nacos-sdk-python 2.0.11 (HTTP v1).

Usage: py_auth_v1.py --server 127.0.0.1:PORT --username U --password P --ttl SECONDS

Exits 0 and prints PY_AUTH_V1_OK on success; prints what went wrong and exits 1 otherwise.

Notes on the client (nacos/client.py of nacos-sdk-python 2.0.11):
  * with username+password it logs in (POST /nacos/v1/auth/login) and sends accessToken on
    every request; it logs in again once its own expiry (now + tokenTtl - 10 s) passes;
  * a 403 is raised as NacosException("Insufficient privilege.").
"""

import argparse
import sys
import time
import traceback

import nacos

IP = "10.61.61.61"
GROUP = "PY_AUTH_GROUP"


class Failure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def refused(call):
    try:
        call()
    except Exception:  # NacosException, or the HTTPError of a refused login
        return True
    return False


def run(args):
    client = nacos.NacosClient(args.server, username=args.username, password=args.password)
    service = "py-auth-svc"
    check(client.add_naming_instance(service, IP, 8080, cluster_name="DEFAULT",
                                     group_name=GROUP) is True, "register refused")
    hosts = client.list_naming_instance(service, group_name=GROUP).get("hosts", [])
    check(any(h.get("port") == 8080 for h in hosts), "registered instance not listed: %r" % hosts)
    check(client.publish_config("py-auth.cfg", GROUP, "py-content") is True, "publish refused")
    check(client.get_config("py-auth.cfg", GROUP, no_snapshot=True) == "py-content",
          "config read back differs")

    # A token kept past the server's TTL is refused; a fresh login recovers.
    client.get_access_token(force_refresh=True)
    client.token_expire_time = time.time() + 3600
    time.sleep(args.ttl + 1.5)
    check(refused(lambda: client.list_naming_instance(service, group_name=GROUP)),
          "an expired token was accepted")
    client.token_expire_time = 0
    hosts = client.list_naming_instance(service, group_name=GROUP).get("hosts", [])
    check(any(h.get("port") == 8080 for h in hosts), "no recovery after a new login")

    anonymous = nacos.NacosClient(args.server)
    check(refused(lambda: anonymous.add_naming_instance(service, IP, 9090, cluster_name="DEFAULT",
                                                        group_name=GROUP)),
          "registered without credentials")
    check(refused(lambda: anonymous.publish_config("py-auth.cfg", GROUP, "x")),
          "published without credentials")
    # A wrong password: the client's login (at construction) is refused.
    check(refused(lambda: nacos.NacosClient(args.server, username=args.username,
                                            password="wrong").list_naming_instance(
                                                service, group_name=GROUP)),
          "listed with a wrong password")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--username", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--ttl", type=float, required=True)
    args = parser.parse_args()
    try:
        run(args)
    except Exception:
        traceback.print_exc()
        sys.exit(1)
    print("PY_AUTH_V1_OK")


if __name__ == "__main__":
    main()
