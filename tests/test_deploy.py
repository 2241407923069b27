"""The deployment files: the Kubernetes manifests (deploy/k8s/), the compose file and the image
agree with the Kubernetes schema, with each other and with the bot's settings. All offline: the
schemas come with the kubernetes-validate package; `docker compose config` and
`kubectl kustomize` run as extra checks only where those tools are installed."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml
from dotenv import dotenv_values

from bot.settings import (
    ENV_PREFIX,
    SETTINGS_FILE_VARIABLE,
    Settings,
    SettingsError,
    load_settings,
    variable,
)

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
COMPOSE = DEPLOY / "compose.yaml"
DOCKERFILE = DEPLOY / "Dockerfile"
KUSTOMIZATION = "kustomization.yaml"
KUBERNETES_VERSION = "1.30"  # the oldest Kubernetes the manifests are written for
WEBHOOK = "pt-screening-bot"  # the webhook Deployment, its Service, PDB, ConfigMap and Secret
DISCORD = "pt-screening-bot-discord"
WEBHOOK_REPLICAS = 3
PLACEHOLDER = "replace-me"
# Names whose values are secret: they belong in a Secret (Kubernetes) or come from .env (compose).
SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|DATABASE_URL")
INTERPOLATED = re.compile(r"\$\{[A-Z_][A-Z0-9_]*(:?\?[^}]*)?\}")  # no default value


@cache
def manifests() -> dict[str, list[dict[str, Any]]]:
    """Every Kubernetes manifest file (not the kustomization), by file name, its documents."""
    found = {}
    for path in sorted(K8S.glob("*.yaml")):
        if path.name != KUSTOMIZATION:
            found[path.name] = [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return found


def resource(kind: str, name: str) -> dict[str, Any]:
    matches = [doc for docs in manifests().values() for doc in docs
               if doc["kind"] == kind and doc["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind} {name}, found {len(matches)}"
    return matches[0]


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, deployment["metadata"]["name"]
    return containers[0]


def container_port(deployment: dict[str, Any], port: int | str) -> int:
    """A port as a probe or a Service names it (a number or a port name), as a number."""
    ports = {p.get("name"): p["containerPort"] for p in container(deployment)["ports"]}
    if isinstance(port, int):
        assert port in ports.values(), f"port {port} is not a port of the container"
        return port
    assert port in ports, f"no container port named {port!r}"
    return ports[port]


def selects(selector: dict[str, str], deployment: dict[str, Any]) -> bool:
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    return all(labels.get(key) == value for key, value in selector.items())


def environment_of(deployment: dict[str, Any]) -> dict[str, str]:
    """Every variable the container gets: its ConfigMaps and Secrets, then its own env."""
    values: dict[str, str] = {}
    spec = container(deployment)
    for source in spec.get("envFrom", []):
        if "configMapRef" in source:
            values |= resource("ConfigMap", source["configMapRef"]["name"]).get("data", {})
        else:
            values |= resource("Secret", source["secretRef"]["name"]).get("stringData", {})
    values |= {item["name"]: item.get("value", "") for item in spec.get("env", [])}
    return values


@cache
def setting_names() -> frozenset[str]:
    """The environment variables the bot reads: BOT_ + each setting, BOT_PRACTICE__<FIELD> for
    the nested ones, and BOT_SETTINGS_FILE."""
    names = {SETTINGS_FILE_VARIABLE}
    for setting in dataclasses.fields(Settings):
        nested = setting.default_factory  # a section (Practice, WebChat, ...) is made by one
        if dataclasses.is_dataclass(nested):
            names |= {variable((setting.name, inner.name)) for inner in dataclasses.fields(nested)}
        else:
            names.add(variable((setting.name,)))
    return frozenset(names)


@cache
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def image_user() -> str:
    users = re.findall(r"^USER\s+(\S+)", DOCKERFILE.read_text(), re.MULTILINE)
    assert users, "the Dockerfile sets no USER"
    return users[-1]


def test_every_manifest_is_valid_kubernetes_and_namespace_free():
    problems = []
    for file, docs in manifests().items():
        assert docs, f"{file} holds no resource"
        for doc in docs:
            where = f"{file}: {doc.get('kind')} {doc.get('metadata', {}).get('name')}"
            try:
                kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
            except kubernetes_validate.ValidationError as error:
                path = ".".join(str(part) for part in error.path)
                problems.append(f"{where}: {path}: {error.message}")
            except kubernetes_validate.SchemaNotFoundError as error:
                problems.append(f"{where}: {error.message}")
            if "namespace" in doc["metadata"]:
                problems.append(f"{where}: names a namespace (the operator chooses it)")
    assert not problems, "\n".join(problems)
    kinds = sorted({doc["kind"] for docs in manifests().values() for doc in docs})
    assert kinds == ["ConfigMap", "Deployment", "PodDisruptionBudget", "Secret", "Service"]


def test_the_schema_check_catches_a_misspelt_field():
    deployment = yaml.safe_load(yaml.safe_dump(resource("Deployment", WEBHOOK)))
    container(deployment)["readinessProbe"]["httpGet"]["paht"] = "/readyz"
    try:
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        assert "paht" in error.message
    else:
        raise AssertionError("a misspelt field passed the schema check")


def test_kustomization_lists_every_manifest_and_names_the_image():
    kustomization = yaml.safe_load((K8S / KUSTOMIZATION).read_text())
    assert sorted(kustomization["resources"]) == sorted(manifests())
    (image,) = kustomization["images"]
    for name in (WEBHOOK, DISCORD):
        assert container(resource("Deployment", name))["image"] == image["name"]

    # Where kubectl is installed, kustomize builds the same resources, with the image set.
    if _works(["kubectl", "version", "--client"]):
        built = subprocess.run(["kubectl", "kustomize", str(K8S)], capture_output=True,
                               text=True, timeout=60)
        assert built.returncode == 0, built.stderr
        docs = [doc for doc in yaml.safe_load_all(built.stdout) if doc]
        ours = [doc for docs in manifests().values() for doc in docs]
        assert sorted((d["kind"], d["metadata"]["name"]) for d in docs) == \
            sorted((d["kind"], d["metadata"]["name"]) for d in ours)
        images = {c["image"] for d in docs if d["kind"] == "Deployment"
                  for c in d["spec"]["template"]["spec"]["containers"]}
        assert images == {f"{image['newName']}:{image['newTag']}"}


def test_webhook_replicas_run_the_webhook_and_discord_runs_once():
    webhook, discord = resource("Deployment", WEBHOOK), resource("Deployment", DISCORD)
    assert webhook["spec"]["replicas"] == WEBHOOK_REPLICAS
    assert container(webhook)["args"] == ["run", "--webhook"]
    assert webhook["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    # One gateway connection per Discord bot: one process, the old one gone before the new one.
    assert discord["spec"]["replicas"] == 1
    assert discord["spec"]["strategy"] == {"type": "Recreate"}
    assert container(discord)["args"] == ["discord"]


def test_probes_use_the_port_the_service_targets_and_the_bot_listens_on():
    service = resource("Service", WEBHOOK)
    (service_port,) = service["spec"]["ports"]
    assert service["spec"]["type"] == "ClusterIP" and service_port["port"] == 80
    webhook = resource("Deployment", WEBHOOK)
    target = container_port(webhook, service_port["targetPort"])
    assert target == 8080
    for name in (WEBHOOK, DISCORD):
        deployment = resource("Deployment", name)
        spec = container(deployment)
        for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
            get = spec[probe]["httpGet"]
            assert get["path"] == path, f"{name} {probe}"
            assert container_port(deployment, get["port"]) == target, f"{name} {probe}"
        environment = environment_of(deployment)
        assert environment["BOT_WEB_PORT"] == str(target), name
        assert environment["BOT_WEB_HOST"] == "0.0.0.0", name  # reachable from the kubelet


def test_service_and_disruption_budget_select_the_webhook_pods_only():
    webhook, discord = resource("Deployment", WEBHOOK), resource("Deployment", DISCORD)
    for deployment in (webhook, discord):
        assert selects(deployment["spec"]["selector"]["matchLabels"], deployment)
    assert not selects(webhook["spec"]["selector"]["matchLabels"], discord)
    assert not selects(discord["spec"]["selector"]["matchLabels"], webhook)
    service = resource("Service", WEBHOOK)["spec"]["selector"]
    budget = resource("PodDisruptionBudget", WEBHOOK)["spec"]
    for selector in (service, budget["selector"]["matchLabels"]):
        assert selects(selector, webhook) and not selects(selector, discord)
    assert 1 <= budget["minAvailable"] < webhook["spec"]["replicas"]


def test_every_variable_the_deploy_files_set_is_a_setting():
    names: dict[str, str] = {}
    for docs in manifests().values():
        for doc in docs:
            where = f"{doc['kind']} {doc['metadata']['name']}"
            names |= dict.fromkeys(doc.get("data", {}) | doc.get("stringData", {}), where)
            if doc["kind"] == "Deployment":
                names |= {item["name"]: where for item in container(doc).get("env", [])}
    bot_environment = compose()["services"]["bot"]["environment"]
    names |= dict.fromkeys(bot_environment, "compose.yaml bot")
    unknown = sorted(f"{name} ({where})" for name, where in names.items()
                     if name not in setting_names())
    assert not unknown, f"not settings of the bot: {', '.join(unknown)}"
    assert "BOT_PRACTICE__BOOKING_URL" in setting_names()  # the nested names are derived


def test_the_settings_the_deploy_files_give_are_valid(monkeypatch, tmp_path):
    """What each process would read loads as settings (placeholders stand for the secrets)."""
    example = {key: value or "" for key, value in dotenv_values(ROOT / ".env.example").items()}
    composed = {key: INTERPOLATED.sub("not-a-real-password", str(value))
                for key, value in compose()["services"]["bot"]["environment"].items()}
    processes = {
        WEBHOOK: environment_of(resource("Deployment", WEBHOOK)),
        DISCORD: environment_of(resource("Deployment", DISCORD)),
        "compose": example | composed,
    }
    for where, environment in processes.items():
        with monkeypatch.context() as patch:
            for name, value in environment.items():
                if name.startswith(ENV_PREFIX):
                    # The operator's real secrets stand where the files ship placeholders,
                    # which the bot refuses (test_the_shipped_kubernetes_secret_does_not_start).
                    patch.setenv(name, value.replace(PLACEHOLDER, "k3J9-mQ2_vX7pL4wZr8"))
            try:
                settings = load_settings(data_dir=tmp_path)  # BOT_DATA_DIR is the container's
            except SettingsError as error:
                raise AssertionError(f"{where}: {error}") from None
        assert (settings.web_host, settings.web_port) == ("0.0.0.0", 8080), where


def test_secrets_are_placeholders_and_only_in_secrets():
    for docs in manifests().values():
        for doc in docs:
            if doc["kind"] == "ConfigMap":
                secret = [key for key in doc["data"] if SECRET_NAME.search(key)]
                assert not secret, f"secret values in ConfigMap {doc['metadata']['name']}: {secret}"
            if doc["kind"] == "Secret":
                assert "data" not in doc, "Secrets here hold placeholders in stringData only"
                name = doc["metadata"]["name"]
                real = [key for key, value in doc["stringData"].items() if PLACEHOLDER not in value]
                assert not real, f"Secret {name}: not a {PLACEHOLDER!r} placeholder: {real}"


def test_replicas_share_their_secrets_and_only_discord_has_its_token():
    webhook = environment_of(resource("Deployment", WEBHOOK))
    discord = environment_of(resource("Deployment", DISCORD))
    # Unset, each replica would make up its own webhook secret and link-signing key.
    for name in ("BOT_TELEGRAM_WEBHOOK_SECRET", "BOT_LINK_SECRET", "BOT_DATABASE_URL"):
        assert webhook.get(name), f"the webhook replicas need {name}"
        assert discord.get(name) == webhook[name], f"the Discord process needs the same {name}"
    assert webhook["BOT_DATABASE_URL"].startswith("postgresql://")
    assert "BOT_DISCORD_TOKEN" not in webhook  # each replica would open a gateway connection
    assert discord.get("BOT_DISCORD_TOKEN")


def test_pods_run_as_the_image_user_on_a_read_only_root():
    uid, _, gid = image_user().partition(":")
    assert uid.isdigit(), "a numeric USER, so runAsNonRoot can be checked"
    for name in (WEBHOOK, DISCORD):
        deployment = resource("Deployment", name)
        pod = deployment["spec"]["template"]["spec"]
        spec = container(deployment)
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == int(uid)
        assert pod["securityContext"]["runAsGroup"] == int(gid or uid)
        assert spec["securityContext"]["readOnlyRootFilesystem"] is True
        assert spec["securityContext"]["allowPrivilegeEscalation"] is False
        empty = {volume["name"] for volume in pod["volumes"] if "emptyDir" in volume}
        mounted = {m["mountPath"] for m in spec["volumeMounts"] if m["name"] in empty}
        assert {"/data", "/tmp"} <= mounted, name
        assert environment_of(deployment)["BOT_DATA_DIR"] in mounted
        assert pod["terminationGracePeriodSeconds"] == 30
        stop = spec.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
        pause = int(stop[1]) if stop[:1] == ["sleep"] else 0
        assert pause <= 10, "the preStop pause leaves the bot time to finish its updates"
        resources = spec["resources"]
        assert resources["requests"] == {"cpu": "100m", "memory": "128Mi"}
        assert resources["limits"] == {"cpu": "500m", "memory": "256Mi"}


def test_compose_runs_the_webhook_on_postgres_without_literal_secrets(tmp_path):
    services = compose()["services"]
    assert set(services) == {"postgres", "bot"}
    postgres, bot = services["postgres"], services["bot"]

    assert postgres["image"] == "postgres:16"
    (volume,) = postgres["volumes"]
    assert volume.split(":")[0] in compose()["volumes"], "a named volume for the database"
    assert volume.endswith(":/var/lib/postgresql/data")
    assert "pg_isready" in postgres["healthcheck"]["test"]
    assert "ports" not in postgres, "the database is reachable from the compose network only"
    user, database = (postgres["environment"][key] for key in ("POSTGRES_USER", "POSTGRES_DB"))

    assert bot["build"]["dockerfile"] == "deploy/Dockerfile"
    assert (COMPOSE.parent / bot["build"]["context"] / bot["build"]["dockerfile"]).is_file()
    assert bot["command"] == ["run", "--webhook"]
    assert bot["env_file"] == "../.env"
    assert bot["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert bot["restart"] == "unless-stopped" and bot["stop_grace_period"] == "30s"
    environment = bot["environment"]
    url = re.fullmatch(r"postgresql://([^:]+):(.+)@postgres:5432/(\w+)",
                       environment["BOT_DATABASE_URL"])
    assert url and (url[1], url[3]) == (user, database)
    assert INTERPOLATED.fullmatch(url[2]), "the database password comes from .env"
    port = int(environment["BOT_WEB_PORT"])
    assert environment["BOT_WEB_HOST"] == "0.0.0.0"
    assert any(str(p).endswith(f":{port}") for p in bot["ports"])
    check = bot["healthcheck"]["test"]
    assert check[:3] == ["CMD", "python", "-c"] and "urllib" in check[3]
    assert f"http://127.0.0.1:{port}/healthz" in check[3]

    for name, service in services.items():
        for key, value in service.get("environment", {}).items():
            if SECRET_NAME.search(key) and key != "BOT_DATABASE_URL":
                assert INTERPOLATED.fullmatch(str(value)), f"{name}: {key} is written literally"

    # Where the docker client has its compose plugin, compose itself reads the file: with the
    # password in .env it is valid, and without it compose refuses (no default password).
    if _works(["docker", "compose", "version"]):
        project = tmp_path / "project"
        (project / "deploy").mkdir(parents=True)
        shutil.copy(COMPOSE, project / "deploy" / COMPOSE.name)
        shutil.copy(DOCKERFILE, project / "deploy" / DOCKERFILE.name)
        example = (ROOT / ".env.example").read_text()
        (project / ".env").write_text(f"{example}\nPOSTGRES_PASSWORD=\n")
        refused = _compose_config(project)
        assert refused.returncode != 0 and "POSTGRES_PASSWORD" in refused.stderr
        (project / ".env").write_text(f"{example}\nPOSTGRES_PASSWORD=not-a-real-password\n")
        valid = _compose_config(project)
        assert valid.returncode == 0, valid.stderr


def _works(command: list[str]) -> bool:
    """True when a command exists here and exits 0 (docker without its compose plugin fails)."""
    if shutil.which(command[0]) is None:
        return False
    try:
        return subprocess.run(command, capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _compose_config(project: Path) -> subprocess.CompletedProcess[str]:
    """`docker compose config --quiet` on a copy of the compose file, as the docs run it."""
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith(("COMPOSE_", "POSTGRES_", ENV_PREFIX))}
    return subprocess.run(
        ["docker", "compose", "--env-file", ".env", "-f", "deploy/compose.yaml",
         "config", "--quiet"],
        cwd=project, env=environment, capture_output=True, text=True, timeout=60,
    )
