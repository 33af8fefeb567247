#!/usr/bin/env python3
"""Drive nacore's web console in headless chromium (selenium) against real clients.

Usage: py_console.py --server 127.0.0.1:PORT [--prefix P]
       py_console.py --server 127.0.0.1:PORT --cluster N [--down 127.0.0.1:PORT2]

With --login USER:PASSWORD (a server with auth on), only the login flow is checked: the
login screen, a wrong password refused, the services and configs screens after login, and
back to the login screen once the token is refused.

With --cluster, only the cluster page is checked: N members UP and one Raft LEADER, or with
--down, that member shown SUSPICIOUS (amber) or DOWN (red) and the others UP (green).

The real nacos-sdk-python 2.0.11 (HTTP v1) registers two instances (with heartbeats) and
watches a config; the console, driven like a user would, then:
  1. shows the service with its instance and healthy counts, and the headline numbers;
  2. changes one instance's weight: the client's instance/list shows the new weight;
  3. rejects invalid JSON, creates a json config, edits it: the watcher gets each content;
  4. diffs the first version against the current one and rolls back: the watcher gets the
     first content again and the server serves it;
  5. lists the watcher among the config's listeners, then deletes the config;
  6. shows this single node as an UP member with its Raft role;
  7. creates, renames and deletes a namespace;
  8. with a stand-in for auth (a fetch stub following the /nacos/v1/auth/login contract,
     as nacore's auth is not on this branch): shows the login screen, refuses a wrong
     password, sends the token on every call once logged in, and returns to the login
     screen on a 403.

Exits 0 and prints PY_CONSOLE_OK on success; prints what went wrong (with the page's
console log and a screenshot path) and exits 1 otherwise. Every wait is a WebDriverWait or a
poll on an observed condition with a deadline.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import traceback

import nacos
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

IP = "127.0.0.1"
GROUP = "CONSOLE_GROUP"
WAIT = 15.0          # one UI condition
CLIENT_WAIT = 10.0   # a change seen by a client (instance/list, watcher callback)


class Failure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def step(msg):
    print("step: " + msg, flush=True)


def poll(what, fetch, cond, timeout):
    """Call fetch() until cond(result) holds; returns the result."""
    deadline = time.monotonic() + timeout
    while True:
        last = fetch()
        if cond(last):
            return last
        if time.monotonic() >= deadline:
            raise Failure("%s: not seen after %.1fs; last value: %r" % (what, timeout, last))
        time.sleep(0.1)


def tid(value):
    return (By.CSS_SELECTOR, '[data-testid="%s"]' % value)


def css(selector):
    return (By.CSS_SELECTOR, selector)


class Watcher:
    """Records the contents a config watcher is called with."""

    def __init__(self):
        self.lock = threading.Lock()
        self.contents = []

    def callback(self, params):
        with self.lock:
            self.contents.append(params.get("content"))

    def seen(self):
        with self.lock:
            return list(self.contents)


def browser(work_dir):
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1400,1000", "--user-data-dir=" + os.path.join(work_dir, "chrome")):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    return webdriver.Chrome(options=options, service=Service(executable_path=driver_path))


class Console:
    def __init__(self, driver, base):
        self.driver = driver
        self.base = base
        self.wait = WebDriverWait(driver, WAIT, poll_frequency=0.1,
                                  ignored_exceptions=(StaleElementReferenceException,))

    def open(self, hash_path):
        self.driver.get(self.base + "/nacos/#" + hash_path)

    def until(self, what, condition):
        try:
            return self.wait.until(condition)
        except Exception as error:
            raise Failure("UI: %s not seen within %.0fs (%s)" % (what, WAIT, type(error).__name__))

    def find(self, what, locator):
        return self.until(what, EC.presence_of_element_located(locator))

    def click(self, what, locator):
        # Found and clicked in one condition: a re-render between the two is retried.
        def clicked(driver):
            element = EC.element_to_be_clickable(locator)(driver)
            if not element:
                return False
            element.click()
            return True
        self.until(what, clicked)

    def until_text(self, what, locator, predicate):
        def condition(driver):
            try:
                text = driver.find_element(*locator).text
            except Exception:
                return False
            return text if predicate(text) else False
        return self.until(what, condition)

    def type_into(self, locator, text):
        element = self.find(str(locator), locator)
        element.clear()
        element.send_keys(text)
        return element

    def set_editor(self, text):
        # The textarea is set through JS (send_keys types key by key, slow for long text, and
        # the editor turns Tab into spaces) and an input event tells the editor.
        area = self.find("config editor", tid("config-content"))
        self.driver.execute_script(
            "arguments[0].value = arguments[1];"
            "arguments[0].dispatchEvent(new Event('input', {bubbles: true}));", area, text)


def services_page(console, service):
    step("services page lists %s with 2 instances, 2 healthy" % service)
    console.open("/services")
    row = css('[data-testid="service-row"][data-service="%s"]' % service)
    console.find("service row of %s" % service, row)
    console.until_text("instance count 2", css('[data-service="%s"] [data-testid="service-instances"]'
                                               % service), lambda t: t == "2")
    console.until_text("healthy count 2", css('[data-service="%s"] [data-testid="service-healthy"]'
                                              % service), lambda t: t == "2")
    services = int(console.find("services number", tid("stat-services")).text)
    check(services >= 1, "services headline shows %d" % services)
    percent = console.find("healthy percent", tid("stat-healthy-percent")).text
    check(percent.endswith("%"), "healthy percent headline is %r" % percent)
    step("search by name narrows the list")
    console.type_into(tid("service-search"), service[-6:])
    console.click("search button", tid("service-search-button"))
    console.until("only matching services", lambda d: all(
        service[-6:] in r.get_attribute("data-service")
        for r in d.find_elements(By.CSS_SELECTOR, '[data-testid="service-row"]'))
        and d.find_elements(*row))


def edit_weight(console, client, service, port):
    step("service page: change the weight of %s:%d to 7.5" % (IP, port))
    console.click("service link", css('[data-service="%s"] [data-testid="service-link"]' % service))
    instance = '[data-testid="instance-row"][data-address="%s:%d"]' % (IP, port)
    console.find("instance row", css(instance))
    console.until_text("instance healthy", css(instance + ' [data-testid="instance-health"]'),
                       lambda t: t == "healthy")
    weight = console.find("weight input", css(instance + ' [data-testid="weight-input"]'))
    weight.clear()
    weight.send_keys("7.5")
    console.click("save", css(instance + ' [data-testid="save-instance"]'))
    console.until_text("saved", css(instance + ' [data-testid="instance-status"]'),
                       lambda t: t == "saved" or t.startswith("HTTP"))
    status = console.driver.find_element(By.CSS_SELECTOR, instance + ' [data-testid="instance-status"]')
    check(status.text == "saved", "saving the instance failed: %s" % status.text)

    def weight_of():
        info = client.list_naming_instance(service, group_name=GROUP, healthy_only=False)
        for host in info.get("hosts", []):
            if host["port"] == port:
                return host["weight"]
        return None
    poll("client instance/list shows weight 7.5", weight_of, lambda w: w == 7.5, CLIENT_WAIT)
    step("disable the instance in the UI: the client no longer gets it")
    row = console.find("instance row again", css(instance))
    enabled = row.find_element(By.CSS_SELECTOR, '[data-testid="enabled-input"]')
    check(enabled.is_selected(), "instance not shown as enabled")
    enabled.click()
    console.click("save", css(instance + ' [data-testid="save-instance"]'))
    poll("client instance/list drops the disabled instance", weight_of, lambda w: w is None,
         CLIENT_WAIT)
    console.until("disabled instance still listed in the console", lambda d: not d.find_element(
        By.CSS_SELECTOR, instance + ' [data-testid="enabled-input"]').is_selected())


def publish_from_editor(console, content, expect_ok=True):
    console.set_editor(content)
    console.click("publish", tid("config-publish"))
    if expect_ok:
        console.until_text("published", tid("config-status"), lambda t: t.startswith("published"))
    else:
        console.until_text("refused", tid("config-status"), lambda t: t.startswith("not published"))


def configs(console, client, watcher, data_id):
    first = json.dumps({"version": 1, "name": "first"}, indent=2)
    second = json.dumps({"version": 2, "name": "second", "extra": True}, indent=2)
    step("create %s (json) from the console" % data_id)
    console.open("/configs")
    console.click("new config", tid("config-new"))
    console.type_into(tid("config-dataid"), data_id)
    console.type_into(tid("config-group"), GROUP)
    Select(console.find("type select", tid("config-type"))).select_by_value("json")
    publish_from_editor(console, '{"version": ', expect_ok=False)
    check("invalid JSON" in console.find("validation", tid("config-validation")).text,
          "no JSON validation message")
    check(client.get_config(data_id, GROUP) is None, "invalid JSON was published")
    publish_from_editor(console, first)
    poll("watcher gets the first content", watcher.seen, lambda s: first in s, CLIENT_WAIT)

    step("find it with a blur search and edit it")
    console.open("/configs")
    console.type_into(tid("config-search-dataid"), data_id[:-3] + "*")
    console.click("search", tid("config-search-button"))
    row = css('[data-testid="config-row"][data-dataid="%s"]' % data_id)
    console.find("config row", row)
    console.click("edit link", css('[data-dataid="%s"] [data-testid="config-edit"]' % data_id))
    console.until("editor holds the first content", lambda d: d.find_element(
        By.CSS_SELECTOR, '[data-testid="config-content"]').get_attribute("value") == first)
    check(Select(console.find("type", tid("config-type"))).first_selected_option.text == "json",
          "edited config's type is not json")
    publish_from_editor(console, second)
    poll("watcher gets the second content", watcher.seen, lambda s: second in s, CLIENT_WAIT)

    step("history: diff version 1 against current, then roll back")
    console.click("history link", tid("edit-history"))
    console.until("two history rows", lambda d: len(d.find_elements(
        By.CSS_SELECTOR, '[data-testid="history-row"]')) >= 2)
    rows = console.driver.find_elements(By.CSS_SELECTOR, '[data-testid="history-row"]')
    oldest = rows[-1]
    oldest.find_element(By.CSS_SELECTOR, '[data-testid="history-diff"]').click()
    diff = console.find("diff", tid("history-diff-lines"))
    console.until("diff lines", lambda d: '"name": "second"' in d.find_element(
        *tid("history-diff-lines")).text)
    deleted = [e.text for e in diff.find_elements(By.CSS_SELECTOR, ".del")]
    added = [e.text for e in diff.find_elements(By.CSS_SELECTOR, ".add")]
    check(any('"name": "first"' in line for line in deleted), "diff lacks -first: %r" % deleted)
    check(any('"extra": true' in line for line in added), "diff lacks +extra: %r" % added)
    check(any('"version": 1' in line for line in deleted), "diff lacks -version 1: %r" % deleted)
    console.click("rollback", tid("history-rollback"))
    console.click("confirm rollback", tid("history-rollback"))
    console.until_text("rolled back", tid("rollback-status"), lambda t: t.startswith("rolled back"))
    poll("watcher gets the first content again", watcher.seen,
         lambda s: len(s) >= 3 and s[-1] == first, CLIENT_WAIT)
    check(client.get_config(data_id, GROUP) == first, "server does not serve the rolled back content")

    step("listeners page shows the watching client")
    console.open("/config/listeners?dataId=%s&group=%s" % (data_id, GROUP))
    console.find("listeners table", tid("listeners-table"))
    console.find("a listener row", tid("listener-row"))

    step("delete it from the list: gone for the client too")
    console.open("/configs?dataId=%s&group=%s" % (data_id, GROUP))
    console.find("config row", row)
    delete = css('[data-dataid="%s"] [data-testid="config-delete"]' % data_id)
    console.click("delete", delete)
    console.click("confirm delete", delete)
    console.until("config row gone", lambda d: not d.find_elements(*row))
    poll("client reads no config", lambda: client.get_config(data_id, GROUP, no_snapshot=True),
         lambda c: c is None, CLIENT_WAIT)


def config_pages(console, client, prefix):
    base = "%s-page-%d-" % (prefix, os.getpid())
    step("configs: 51 matches make two pages of 50")
    for index in range(51):
        check(client.publish_config(base + "%02d" % index, GROUP, "v"), "publish %d failed" % index)
    console.open("/configs?dataId=%s*&group=%s" % (base, GROUP))
    console.until_text("page 1 of 2", tid("page-number"), lambda t: t == "Page 1 of 2 (51)")
    rows = (By.CSS_SELECTOR, '[data-testid="config-row"]')
    console.until("50 rows", lambda d: len(d.find_elements(*rows)) == 50)
    console.click("next page", tid("page-next"))
    console.until_text("page 2 of 2", tid("page-number"), lambda t: t == "Page 2 of 2 (51)")
    console.until("1 row", lambda d: len(d.find_elements(*rows)) == 1)
    for index in range(51):
        client.remove_config(base + "%02d" % index, GROUP)


def cluster(console):
    step("cluster page: this node is UP")
    console.click("cluster nav", tid("nav-cluster"))
    console.until_text("member UP", tid("member-state"), lambda t: t == "UP")
    role = console.find("raft role", tid("member-role")).text
    check(role in ("LEADER", "FOLLOWER"), "raft role shown as %r" % role)


def namespaces(console, prefix):
    ns_id = "%s-ns-%d" % (prefix, os.getpid())
    step("namespaces: create %s, rename it, delete it" % ns_id)
    console.click("namespaces nav", tid("nav-namespaces"))
    console.find("public row", css('[data-testid="namespace-row"][data-namespace=""]'))
    console.type_into(tid("namespace-new-id"), ns_id)
    console.type_into(tid("namespace-new-name"), "Console NS")
    console.type_into(tid("namespace-new-desc"), "made by the browser test")
    console.click("create", tid("namespace-create"))
    row = '[data-testid="namespace-row"][data-namespace="%s"]' % ns_id
    console.find("new namespace row", css(row))
    console.find("new namespace in the selector", css('#namespace option[value="%s"]' % ns_id))
    name = console.find("name input", css(row + ' [data-testid="namespace-name"]'))
    name.clear()
    name.send_keys("Renamed NS")
    old_row = console.find("row before saving", css(row))
    console.click("save", css(row + ' [data-testid="namespace-save"]'))
    # The typed value is in the old row too: only the row drawn after the save counts.
    console.until("table drawn again", EC.staleness_of(old_row))
    console.until("renamed namespace", lambda d: d.find_element(
        By.CSS_SELECTOR, row + ' [data-testid="namespace-name"]').get_attribute("value") == "Renamed NS")
    console.click("delete", css(row + ' [data-testid="namespace-delete"]'))
    console.click("confirm delete", css(row + ' [data-testid="namespace-delete"]'))
    console.until("namespace gone", lambda d: not d.find_elements(By.CSS_SELECTOR, row))


# Installed before the console's scripts run: stands in for a server with auth on, following
# the contract of POST /nacos/v1/auth/login (nacos / secret -> token). Every API call without
# the token (or once `window.__expired` is set) is answered 403; `window.__calls` records them.
AUTH_STUB = r"""
(() => {
  const realFetch = window.fetch.bind(window);
  window.__calls = [];
  window.__expired = false;
  const deny = () => new Response('authorization failed!', {status: 403});
  window.fetch = async (url, init = {}) => {
    const u = new URL(url, location.href);
    const body = init.body ? new URLSearchParams(init.body) : new URLSearchParams();
    window.__calls.push({path: u.pathname, token: u.searchParams.get('accessToken')});
    if (u.pathname === '/nacos/v1/auth/login') {
      if (body.get('username') === 'nacos' && body.get('password') === 'secret') {
        window.__expired = false;
        return new Response(JSON.stringify({accessToken: 'tok-123', tokenTtl: 18000,
          globalAdmin: true, username: 'nacos'}), {status: 200});
      }
      return deny();
    }
    if (u.pathname.startsWith('/nacos/v') &&
        (window.__expired || u.searchParams.get('accessToken') !== 'tok-123')) {
      return deny();
    }
    return realFetch(url, init);
  };
})();
"""


def auth_flow(driver, base):
    step("auth on (stubbed login contract): login screen, wrong then right password")
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": AUTH_STUB})
    console = Console(driver, base)
    # Another path than the one open, so that the page loads again (with the stub) rather
    # than only changing its hash.
    driver.get(base + "/nacos/index.html#/services")
    console.until("login screen", EC.visibility_of_element_located(tid("login")))
    console.type_into(tid("login-username"), "nacos")
    console.type_into(tid("login-password"), "wrong")
    console.click("log in", tid("login-submit"))
    console.until_text("wrong password message", tid("login-error"), lambda t: "Wrong" in t)
    console.type_into(tid("login-password"), "secret")
    console.click("log in", tid("login-submit"))
    console.until("login screen hidden", EC.invisibility_of_element_located(tid("login")))
    console.find("services table after login", tid("services-table"))
    console.until_text("user shown", tid("user"), lambda t: t == "nacos")
    calls = driver.execute_script("return window.__calls")
    after = calls[[c["path"] for c in calls].index("/nacos/v1/auth/login"):]
    api_calls = [c for c in after if c["path"] != "/nacos/v1/auth/login"]
    check(api_calls, "no API call after login: %r" % calls)
    check(all(c["token"] == "tok-123" for c in api_calls),
          "an API call after login went without the token: %r" % api_calls)
    step("token refused later (403): back to the login screen")
    driver.execute_script("window.__expired = true;")
    console.until("login screen after a 403", EC.visibility_of_element_located(tid("login")))
    check(driver.execute_script("return sessionStorage.getItem('nacore.accessToken')") is None,
          "token kept after a 403")


def cluster_members(console, members, down):
    console.open("/cluster")
    rows = '[data-testid="member-row"]'
    console.until("%d member rows" % members, lambda d: len(d.find_elements(By.CSS_SELECTOR, rows))
                  == members)
    colours = {"UP": "ok", "SUSPICIOUS": "warn", "DOWN": "bad"}

    def states(driver):
        out = {}
        for row in driver.find_elements(By.CSS_SELECTOR, rows):
            cell = row.find_element(By.CSS_SELECTOR, '[data-testid="member-state"]')
            role = row.find_element(By.CSS_SELECTOR, '[data-testid="member-role"]').text
            state = cell.text.strip()
            check(colours.get(state) in cell.get_attribute("class").split(),
                  "state %s shown without its colour class: %r" % (state, cell.get_attribute("class")))
            out[row.get_attribute("data-address")] = (state, role)
        return out

    if down is None:
        step("cluster page: %d members UP, one LEADER" % members)
        seen = console.until("every member UP with one leader", lambda d: (lambda s: s if all(
            v[0] == "UP" for v in s.values()) and [v[1] for v in s.values()].count("LEADER") == 1
            else False)(states(d)))
        summary = console.find("members up", tid("stat-members-up")).text
        check(summary == "%d/%d" % (members, members), "members up shows %r" % summary)
        check("ok" in console.find("members up", tid("stat-members-up")).get_attribute("class"),
              "all members up is not green")
        print("members: %r" % seen, flush=True)
    else:
        step("cluster page: %s no longer UP, the others UP" % down)
        seen = console.until("%s SUSPICIOUS or DOWN" % down, lambda d: (lambda s: s if s.get(
            down, ("UP",))[0] in ("SUSPICIOUS", "DOWN") and sum(v[0] == "UP" for v in s.values())
            == members - 1 else False)(states(d)))
        console.until_text("members up count", tid("stat-members-up"),
                           lambda t: t == "%d/%d" % (members - 1, members))
        print("members: %r" % seen, flush=True)


def real_login(console, driver, server, credentials):
    user, password = credentials.split(":", 1)
    service = "auth-svc-%d" % os.getpid()
    client = nacos.NacosClient(server, username=user, password=password,
                               logDir=os.path.join(tempfile.gettempdir(), "py-console-auth-logs"))
    check(client.add_naming_instance(service, IP, 18101, group_name=GROUP, heartbeat_interval=2),
          "register with credentials failed")
    step("auth on: the console opens on the login screen")
    console.open("/services")
    console.until("login screen", EC.visibility_of_element_located(tid("login")))
    console.type_into(tid("login-username"), user)
    console.type_into(tid("login-password"), password + "-wrong")
    console.click("log in", tid("login-submit"))
    console.until_text("wrong password message", tid("login-error"), lambda t: "Wrong" in t)
    console.type_into(tid("login-password"), password)
    console.click("log in", tid("login-submit"))
    console.until("login screen hidden", EC.invisibility_of_element_located(tid("login")))
    step("logged in: services, configs and namespaces answer")
    console.find("service registered with credentials",
                 css('[data-testid="service-row"][data-service="%s"]' % service))
    console.until_text("user shown", tid("user"), lambda t: t == user)
    console.click("configs nav", tid("nav-configs"))
    console.find("configs table", tid("configs-table"))
    check(driver.find_element(By.ID, "banner").text == "", "an error banner after login")
    step("a refused token (403) shows the login screen again")
    driver.execute_script("sessionStorage.setItem('nacore.accessToken', 'not-a-token');")
    console.click("services nav", tid("nav-services"))
    console.until("login screen after a refused token", EC.visibility_of_element_located(tid("login")))
    check(driver.execute_script("return sessionStorage.getItem('nacore.accessToken')") is None,
          "refused token kept")
    console.type_into(tid("login-username"), user)
    console.type_into(tid("login-password"), password)
    console.click("log in again", tid("login-submit"))
    console.find("services after logging in again", css('[data-service="%s"]' % service))
    step("log out: login screen")
    console.click("log out", tid("logout"))
    console.until("login screen after logout", EC.visibility_of_element_located(tid("login")))


def main_cluster(args):
    work_dir = tempfile.mkdtemp(prefix="py-console-")
    driver = None
    try:
        driver = browser(work_dir)
        console = Console(driver, "http://" + args.server)
        if args.login:
            real_login(console, driver, args.server, args.login)
        else:
            cluster_members(console, args.cluster, args.down)
        print("PY_CONSOLE_OK", flush=True)
        return 0
    except (Failure, WebDriverException) as error:
        print("FAILED: %s" % error, flush=True)
        traceback.print_exc()
        return 1
    finally:
        if driver is not None:
            driver.quit()
        shutil.rmtree(work_dir, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--prefix", default="console")
    parser.add_argument("--cluster", type=int, default=0)
    parser.add_argument("--down", default=None)
    parser.add_argument("--login", default=None)
    args = parser.parse_args()
    if args.cluster or args.login:
        return main_cluster(args)
    work_dir = tempfile.mkdtemp(prefix="py-console-")
    service = "%s-svc-%d" % (args.prefix, os.getpid())
    data_id = "%s-cfg-%d.json" % (args.prefix, os.getpid())
    client = nacos.NacosClient(args.server, logDir=os.path.join(work_dir, "logs"))
    client.set_options(snapshot_base=os.path.join(work_dir, "snapshot"),
                       failover_base=os.path.join(work_dir, "failover"))
    driver = None
    try:
        step("register two instances of %s with heartbeats" % service)
        for port in (18001, 18002):
            ok = client.add_naming_instance(service, IP, port, weight=1.0, group_name=GROUP,
                                            heartbeat_interval=2)
            check(ok is True, "add_naming_instance %d failed" % port)
        watcher = Watcher()
        client.add_config_watcher(data_id, GROUP, watcher.callback)
        driver = browser(work_dir)
        console = Console(driver, "http://" + args.server)
        services_page(console, service)
        edit_weight(console, client, service, 18001)
        configs(console, client, watcher, data_id)
        config_pages(console, client, args.prefix)
        cluster(console)
        namespaces(console, args.prefix)
        errors = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
        check(not errors, "the page logged errors: %r" % errors)
        auth_flow(driver, console.base)
        print("PY_CONSOLE_OK", flush=True)
        return 0
    except (Failure, WebDriverException) as error:
        print("FAILED: %s" % error, flush=True)
        traceback.print_exc()
        if driver is not None:
            shot = os.path.join(tempfile.gettempdir(), "py-console-failure-%d.png" % os.getpid())
            try:
                driver.save_screenshot(shot)
                print("screenshot: %s" % shot, flush=True)
                print("page log: %r" % driver.get_log("browser"), flush=True)
                banner = driver.find_element(By.ID, "banner").text
                print("banner: %r" % banner, flush=True)
            except WebDriverException:
                pass
        return 1
    finally:
        if driver is not None:
            driver.quit()
        try:
            client.remove_config_watcher(data_id, GROUP, watcher.callback)
        except Exception:
            pass  # the process exits next anyway; the watcher threads are daemons
        shutil.rmtree(work_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
