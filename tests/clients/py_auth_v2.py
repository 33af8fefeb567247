#!/usr/bin/env python3
"""Drive a nacore server that has auth on with the real nacos-sdk-python 3.2.0 gRPC client
(`v2.nacos`).

Usage: py_auth_v2.py --server 127.0.0.1:HTTP_PORT --grpc-port GRPC_PORT --username U
       --password P --ttl SECONDS

Exits 0 and prints PY_AUTH_V2_OK on success; prints what went wrong and exits 1 otherwise.

Notes on the client (v2/nacos of nacos-sdk-python 3.2.0):
  * with username+password it logs in over HTTP (POST /nacos/v1/auth/users/login) and puts
    accessToken in every gRPC request's metadata headers; it logs in again once its own
    expiry (now + tokenTtl - 10 s) passes, so with a short TTL it logs in before each call;
  * a refused gRPC request (resultCode 500, errorCode 403) raises NacosException.
"""

import argparse
import asyncio
import logging
import os
import shutil
import sys
import tempfile
import traceback

from v2.nacos import ClientConfigBuilder, GRPCConfig, NacosConfigService, NacosNamingService
from v2.nacos import ConfigParam
from v2.nacos.naming.model.naming_param import ListInstanceParam, RegisterInstanceParam

IP = "10.62.62.62"
GROUP = "PY3_AUTH_GROUP"
OVERALL_TIMEOUT = 60.0


class Failure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def make_config(args, work_dir, name, credentials):
    http_port = int(args.server.rsplit(":", 1)[1])
    builder = (
        ClientConfigBuilder()
        .server_address(args.server)
        .grpc_config(GRPCConfig(port_offset=args.grpc_port - http_port, grpc_timeout=5000))
        .log_dir(os.path.join(work_dir, "logs-" + name))
        .cache_dir(os.path.join(work_dir, "cache-" + name))
        .log_level(logging.INFO)
        .load_cache_at_start(False)
        .timeout_ms(5000)
    )
    if credentials:
        builder = builder.username(args.username).password(args.password)
    return builder.build()


async def refused(coro):
    try:
        result = await coro
    except Exception:
        return True
    return result is False


async def run(args, work_dir):
    naming = await NacosNamingService.create_naming_service(make_config(args, work_dir, "n", True))
    configs = await NacosConfigService.create_config_service(make_config(args, work_dir, "c", True))
    service = "py3-auth-svc"
    for round_ in range(3):
        port = 7000 + round_
        # One service per round: Nacos keeps one registration per (connection, service).
        svc_name = "%s-%d" % (service, round_)
        ok = await naming.register_instance(RegisterInstanceParam(
            service_name=svc_name, group_name=GROUP, ip=IP, port=port, weight=1.0,
            cluster_name="DEFAULT", ephemeral=True))
        check(ok, "register_instance returned %r" % (ok,))
        hosts = await naming.list_instances(ListInstanceParam(
            service_name=svc_name, group_name=GROUP, subscribe=False, healthy_only=None))
        check(any(h.port == port for h in hosts), "instance %d not listed: %r" % (port, hosts))
        content = "py3-content-%d" % round_
        ok = await configs.publish_config(ConfigParam(data_id="py3-auth.cfg", group=GROUP,
                                                      content=content))
        check(ok is True, "publish_config returned %r" % (ok,))
        got = await configs.get_config(ConfigParam(data_id="py3-auth.cfg", group=GROUP))
        check(got == content, "get_config = %r, expected %r" % (got, content))
        # Past the server's TTL: the next call runs with a new token.
        await asyncio.sleep(args.ttl / 2)

    anonymous = await NacosNamingService.create_naming_service(
        make_config(args, work_dir, "anon", False))
    check(await refused(anonymous.register_instance(RegisterInstanceParam(
        service_name=service, group_name=GROUP, ip=IP, port=7999, weight=1.0,
        cluster_name="DEFAULT", ephemeral=True))), "registered without credentials")
    for svc in (naming, configs, anonymous):
        try:
            await svc.shutdown()
        except Exception:
            pass


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--grpc-port", type=int, required=True)
    parser.add_argument("--username", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--ttl", type=float, required=True)
    args = parser.parse_args()
    work_dir = tempfile.mkdtemp(prefix="py-auth-v2-")
    try:
        asyncio.run(asyncio.wait_for(run(args, work_dir), OVERALL_TIMEOUT))
    except Exception:
        traceback.print_exc()
        for root, _, files in os.walk(work_dir):
            for f in files:
                if f.endswith(".log"):
                    with open(os.path.join(root, f), errors="replace") as fh:
                        sys.stderr.write(fh.read()[-3000:])
        shutil.rmtree(work_dir, ignore_errors=True)
        os._exit(1)
    shutil.rmtree(work_dir, ignore_errors=True)
    print("PY_AUTH_V2_OK", flush=True)
    os._exit(0)


if __name__ == "__main__":
    main()
