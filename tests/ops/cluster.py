"""Two app-server machines on one PostgreSQL, behind nginx, for the cluster
tests (tests/ops/test_cluster.py) and the capacity benchmark
(bench/capacity.py).

Each "machine" is a Linux network namespace of its own (``ip netns``) joined
to this one by a veth pair: its own network stack and address (10.x.y.2);
what runs in it (gunicorn with deploy/gunicorn.conf.py and the production
settings, ``manage.py run_worker``) reaches the rest only over that link, as
a second computer on the LAN would. The test cluster's PostgreSQL and the
SMTP sink listen on 127.0.0.1 of this namespace only (they are shared with
other test runs, so the test does not reconfigure them); a TCP relay on this
side of each link (tests/ops/tcpproxy.py, at 10.x.y.1) carries their traffic,
which is also where a test cuts the database away. nginx (Debian's) runs here
and balances over the two addresses with the proxy settings of
deploy/nginx/samverkan.conf.

Where network namespaces cannot be made (not root, a container without
CAP_NET_ADMIN), the machines are two loopback addresses, 127.0.0.2 and
127.0.0.3: separate processes on separate addresses, but one network stack;
``Cluster.isolation`` says which was used (SAMVERKAN_CLUSTER_LOOPBACK=1 chooses
the fallback on purpose)."""

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from .liveserver import ROOT, SECRET, Client
from .tcpproxy import TcpProxy, free_port


def run(*args):
    return subprocess.run(args, check=True, capture_output=True, text=True)


def namespaces_work():
    if os.environ.get("SAMVERKAN_CLUSTER_LOOPBACK"):  # to run the fallback on purpose
        return False
    if os.geteuid() != 0 or not shutil.which("ip"):
        return False
    name = f"svprobe{os.getpid() % 100000}"
    try:
        run("ip", "netns", "add", name)
        run("ip", "netns", "exec", name, "ip", "link", "set", "lo", "up")
        return True
    except (subprocess.CalledProcessError, OSError):
        return False
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


class Machine:
    """One app-server machine: its address, how to run a command on it, and
    the database and mail server as it reaches them."""

    def __init__(self, name, address, prefix=(), gateway=None):
        self.name, self.address, self.prefix, self.gateway = name, address, list(prefix), gateway
        self.relays = []
        self.processes = []
        self.database_url = self.email_url = None

    def relay(self, target_port, *, always=False):
        """A relay on this machine's link to a service on 127.0.0.1; on loopback
        addresses none is needed, but one is made when ``always`` (the database's, to cut it)."""
        if self.gateway is None and not always:
            return "127.0.0.1", target_port
        proxy = TcpProxy("127.0.0.1", target_port, host=self.gateway or "127.0.0.1").start()
        self.relays.append(proxy)
        return self.gateway or "127.0.0.1", proxy.port

    def popen(self, args, *, env, log_path):
        process = subprocess.Popen(
            [*self.prefix, *args],
            cwd=ROOT,
            env=env,
            stdout=open(log_path, "w"),  # noqa: SIM115 (the child holds it)
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: killed as a whole, as when the machine dies
        )
        process.log_path = log_path
        self.processes.append(process)
        return process


class Cluster:
    def __init__(
        self, tmp_path, database, *, smtp_port=None, gunicorn_workers=2, use_namespaces=None, cuttable_database=True
    ):
        """``database``: pytest's settings_dict of the test database. ``cuttable_database``: on
        loopback addresses too, the database through a relay the test can cut (not for the benchmark)."""
        self.cuttable_database = cuttable_database
        self.tmp = Path(tmp_path)
        self.database = database
        self.smtp_port = smtp_port
        self.gunicorn_workers = gunicorn_workers
        self.port = 8000  # each app server's port on its own address
        self.use_namespaces = namespaces_work() if use_namespaces is None else use_namespaces
        self.isolation = "network namespaces" if self.use_namespaces else "loopback addresses"
        self.machines = []
        self.servers = {}
        self.workers = {}
        self.nginx = None
        self._made = []

    # -- the machines ------------------------------------------------------
    def make_machines(self, count=2):
        tag = os.getpid() % 100000
        subnet = 100 + os.getpid() % 150
        for index in range(1, count + 1):
            if self.use_namespaces:
                ns, here, there = f"sv{tag}m{index}", f"sv{tag}a{index}", f"sv{tag}b{index}"
                gateway, address = f"10.{subnet}.{index}.1", f"10.{subnet}.{index}.2"
                run("ip", "netns", "add", ns)
                self._made.append(("netns", ns))
                run("ip", "link", "add", here, "type", "veth", "peer", "name", there)
                self._made.append(("link", here))
                run("ip", "link", "set", there, "netns", ns)
                run("ip", "addr", "add", f"{gateway}/24", "dev", here)
                run("ip", "link", "set", here, "up")
                inside = ("ip", "netns", "exec", ns)
                run(*inside, "ip", "addr", "add", f"{address}/24", "dev", there)
                run(*inside, "ip", "link", "set", there, "up")
                run(*inside, "ip", "link", "set", "lo", "up")
                machine = Machine(f"machine{index}", address, inside, gateway)
            else:
                machine = Machine(f"machine{index}", f"127.0.0.{index + 1}")
            db = self.database
            host, port = machine.relay(int(db["PORT"] or 5432), always=self.cuttable_database)
            credentials = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
            # application_name: which machine a connection is from, in pg_stat_activity.
            machine.database_url = (
                f"postgres://{credentials}@{host}:{port}/{db['NAME']}?application_name={machine.name}"
            )
            if self.smtp_port:
                host, port = machine.relay(self.smtp_port)
                machine.email_url = f"smtp://{host}:{port}"
            self.machines.append(machine)
        return self.machines

    def environment(self, machine, **extra):
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "SECRET_KEY": SECRET,  # the same on every machine: a session signed by one is good on the other
            "ALLOWED_HOSTS": ",".join(["127.0.0.1", *(m.address for m in self.machines)]),
            "DATABASE_URL": machine.database_url,
            "EMAIL_URL": machine.email_url or "smtp://127.0.0.1:1",
            "SECURE_SSL_REDIRECT": "False",
            "CONN_MAX_AGE": "60",
            "DB_CONNECT_TIMEOUT": "2",
            "LOG_FORMAT": "json",
            "PYTHONUNBUFFERED": "1",
            "FORWARDED_ALLOW_IPS": ",".join(["127.0.0.1", *(m.gateway or m.address for m in self.machines)]),
            **{key: str(value) for key, value in extra.items()},
        }

    # -- what runs on them -------------------------------------------------
    def start_app_server(self, machine, **extra_env):
        if self.gunicorn_workers:  # else deploy/gunicorn.conf.py's default, 2 × CPUs + 1
            extra_env.setdefault("GUNICORN_WORKERS", self.gunicorn_workers)
        env = self.environment(
            machine,
            GUNICORN_BIND=f"{machine.address}:{self.port}",
            PROMETHEUS_MULTIPROC_DIR=self._directory(f"metrics-{machine.name}"),
            **extra_env,
        )
        gunicorn = str(Path(sys.executable).parent / "gunicorn")
        process = machine.popen(
            [gunicorn, "--config=deploy/gunicorn.conf.py", "--graceful-timeout=2", "config.wsgi"],
            env=env,
            log_path=self.tmp / f"gunicorn-{machine.name}.log",
        )
        self.servers[machine.name] = process
        return process

    def start_worker(self, machine, *args, **extra_env):
        env = self.environment(machine, **extra_env)
        process = machine.popen(
            [sys.executable, "manage.py", "run_worker", *args],
            env=env,
            log_path=self.tmp / f"worker-{machine.name}.log",
        )
        self.workers[machine.name] = process
        return process

    def wait_until_serving(self, timeout=60):
        deadline = time.monotonic() + timeout
        for machine in self.machines:
            process = self.servers[machine.name]
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"gunicorn on {machine.name} stopped: " + Path(process.log_path).read_text())
                with contextlib.suppress(OSError):
                    if self.client(machine).get("/healthz").status == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"gunicorn on {machine.name} did not answer within {timeout} s")
                time.sleep(0.2)

    def start_nginx(self):
        """nginx (Debian's) on 127.0.0.1, round robin over the app servers,
        with the ``location /`` of deploy/nginx/samverkan.conf as it is."""
        site = (ROOT / "deploy" / "nginx" / "samverkan.conf").read_text()
        location = re.search(r"\n    location / \{.*?\n    \}\n", site, re.DOTALL).group(0)
        work = Path(self._directory("nginx"))
        upstreams = "\n".join(
            f"        server {m.address}:{self.port} max_fails=3 fail_timeout=10s;" for m in self.machines
        )
        self.nginx_port = free_port()
        temp = "\n".join(
            f"    {kind}_temp_path {work}/{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        (work / "nginx.conf").write_text(
            f"""daemon off;
worker_processes 2;
pid {work}/nginx.pid;
error_log {work}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log {work}/access.log;
{temp}
    upstream samverkan_app {{
{upstreams}
        keepalive 16;
    }}
    server {{
        listen 127.0.0.1:{self.nginx_port};
        client_max_body_size 21m;
        location = /metrics {{ return 404; }}
{location}
    }}
}}
"""
        )
        self.nginx = subprocess.Popen(
            ["nginx", "-p", str(work), "-c", str(work / "nginx.conf")],
            stdout=open(work / "stdout.log", "w"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 20
        while True:
            with contextlib.suppress(OSError):
                if self.proxy_client().get("/healthz").status == 200:
                    return self.nginx
            if self.nginx.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("nginx did not start: " + (work / "error.log").read_text())
            time.sleep(0.2)

    # -- clients -----------------------------------------------------------
    def client(self, machine, timeout=30):
        """Straight to one app server (as Prometheus or an operator would)."""
        return Client(self.port, timeout=timeout, host=machine.address)

    def proxy_client(self, timeout=30):
        """Through nginx, as the users' browsers."""
        return Client(self.nginx_port, timeout=timeout)

    # -- faults and the end ------------------------------------------------
    def kill_machine_server(self, machine):
        """SIGKILL to the app server's every process (master and workers) at once: no clean-up."""
        process = self.servers[machine.name]
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def cut_database(self, machine):
        machine.relays[0].stop()

    def restore_database(self, machine):
        machine.relays[0].start()

    def _signal_all(self, signum):
        for process in [*self.servers.values(), *self.workers.values()]:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signum)

    def freeze(self):
        self._signal_all(signal.SIGSTOP)

    def thaw(self):
        self._signal_all(signal.SIGCONT)

    def stop(self):
        self.thaw()
        for process in [self.nginx, *self.servers.values(), *self.workers.values()]:
            if process is not None and process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        for process in [self.nginx, *self.servers.values(), *self.workers.values()]:
            if process is None:
                continue
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        for machine in self.machines:
            for relay in machine.relays:
                relay.stop()
        for kind, name in reversed(self._made):
            if kind == "link":
                subprocess.run(["ip", "link", "del", name], capture_output=True)
            else:
                subprocess.run(["ip", "netns", "del", name], capture_output=True)

    def log(self, process):
        return Path(process.log_path).read_text()

    def _directory(self, name):
        path = self.tmp / name
        path.mkdir(exist_ok=True)
        return str(path)
