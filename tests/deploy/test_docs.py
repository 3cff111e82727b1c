"""docs/deployment.md and its Chinese twin: the ports, images, commands and settings they give are the
ones the files define, and the two languages say the same thing (same commands, tables and sections)."""

from __future__ import annotations

import re
import shlex
from urllib.parse import urlsplit

import pytest

from pflow.adapters.users import ConfiguredUserDirectory
from pflow.config import Settings
from tests.deploy import files
from tests.deploy.files import BACKEND_DOCKERFILE, DOCS, FRONTEND_DOCKERFILE, services
from tests.deploy.translations import slug, without_comments

LANGUAGES = list(DOCS)
SERVICE_HEADER = {"en": "service", "zh-CN": "服务"}
SEED_ERRORS = [
    "Cannot connect to the Docker daemon",
    "AttributeError: 'module' object has no attribute 'unique'",
    "unknown shorthand flag: 'f' in -f",
    "GDBus.Error:org.freedesktop.DBus.Error.ServiceUnknown",
    "docker/dockerfile:1",
]


def doc(language: str) -> str:
    return DOCS[language].read_text(encoding="utf-8")


def service_rows(language: str) -> dict[str, list[str]]:
    rows = files.table_with_header(doc(language), SERVICE_HEADER[language])
    return {files.code_spans(row[0])[0]: row for row in rows}


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_services_table_lists_every_service_with_its_image(language):
    rows = service_rows(language)
    assert set(rows) == set(services())
    for name, row in rows.items():
        # The guide names the release (name:tag); the Compose file pins its digest as well.
        image, tag, _ = files.image_parts(services()[name]["image"])
        assert files.code_spans(row[1]) == [f"{image}:{tag}"], name


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_documented_host_ports_are_the_published_ones(language):
    for name, row in service_rows(language).items():
        documented = set()
        for span in files.code_spans(row[2]):
            ip, _, port = span.rpartition(":")
            documented.add((ip, int(port)))
        published = {(ip, port) for ip, port, _ in files.published_ports(services()[name])}
        assert documented == published, f"{name}: the guide says {documented}, the compose file publishes {published}"


def external_images() -> set[str]:
    pulled = {s["image"] for s in services().values() if "build" not in s}
    built_by_compose = {s["image"] for s in services().values() if "build" in s}
    pulled -= built_by_compose
    return pulled | set(files.dockerfile_from_images(BACKEND_DOCKERFILE)) | set(
        files.dockerfile_from_images(FRONTEND_DOCKERFILE))


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_offline_image_list_is_complete(language):
    save = [line for block in files.fenced_blocks(doc(language)) for line in block.splitlines()
            if line.startswith("docker save ")]
    assert len(save) == 1
    assert set(shlex.split(save[0])[4:]) == external_images()
    loop = [line for block in files.fenced_blocks(doc(language)) for line in block.splitlines()
            if line.startswith("for image in ")]
    assert len(loop) == 1 and set(loop[0].split(";")[0].split()[3:]) == external_images()


@pytest.mark.parametrize("language", LANGUAGES)
def test_compose_v1_and_v2_start_commands(language):
    blocks = [b.strip() for b in files.fenced_blocks(doc(language))]
    assert "docker compose -f deploy/docker-compose.yml up --build" in blocks
    assert "docker-compose -f deploy/docker-compose.yml up --build" in blocks
    assert "cp .env.example deploy/.env" in doc(language)


def local_debug_environment(language: str) -> dict[str, str]:
    exports = {}
    for block in files.fenced_blocks(doc(language)):
        for line in block.splitlines():
            if line.startswith("export "):
                name, _, value = line[len("export "):].partition("=")
                exports[name] = value
    return exports


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_local_debug_settings_reach_the_published_ports(language):
    env = local_debug_environment(language)
    assert set(env) <= files.config_variables(), f"not read by PFlow: {set(env) - files.config_variables()}"
    settings = Settings.from_env(env)
    assert settings.workflow_engine == "camunda"
    assert "docker compose -f deploy/docker-compose.yml -f deploy/docker-compose.debug.yml up -d db camunda rabbitmq" \
        in doc(language)
    assert "guest" not in env["RABBITMQ_URL"] and "pflow:pflow" not in env["DATABASE_URL"], "passwords come from deploy/.env"

    def host_port(service: str) -> set[int]:
        """Published by the debug override (deploy/docker-compose.debug.yml), on loopback only."""
        return {port for ip, port, _ in files.published_ports(files.compose_debug()["services"][service])
                if ip == "127.0.0.1"}

    assert urlsplit(env["DATABASE_URL"]).port in host_port("db")
    assert urlsplit(env["CAMUNDA_URL"]).port in host_port("camunda")
    assert urlsplit(env["RABBITMQ_URL"]).port in host_port("rabbitmq")
    assert settings.http_port in host_port("api"), "the host API takes the place of the api container"
    assert "VITE_API_URL=http://localhost:8080 npm run dev -- --host" in doc(language)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_users_file_example_is_one_pflow_loads(language, tmp_path):
    blocks = [b for b in re.findall(r"^```json\n(.*?)^```", doc(language), re.S | re.M)]
    assert len(blocks) == 1
    path = tmp_path / "users.json"
    path.write_text(blocks[0])
    directory = ConfiguredUserDirectory.from_file(path)
    assert {u.username for u in directory.list_users()} == {"anna", "wei"}
    assert "PFLOW_USERS_FILE=/etc/pflow/users.json" in doc(language)
    assert "./config:/etc/pflow:ro" in services()["api"]["volumes"]


@pytest.mark.parametrize("language", LANGUAGES)
def test_troubleshooting_covers_the_errors_users_meet(language):
    headings = [line for line in doc(language).splitlines() if line.startswith("### `")]
    for error in SEED_ERRORS:
        assert any(error in h for h in headings), f"no troubleshooting entry for {error!r}"
    # The message Compose prints when the secret is missing is the one the guide explains.
    assert any("PFLOW_SECRET_KEY is missing a value" in h for h in headings)


@pytest.mark.parametrize("language", LANGUAGES)
def test_links_point_at_existing_sections_and_files(language):
    text = doc(language)
    anchors = {slug(line) for line in text.splitlines() if re.match(r"#{1,6} ", line)}
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if target.startswith("#"):
            assert target[1:] in anchors, f"{DOCS[language].name}: no section for {target}"
        elif not re.match(r"https?://", target):
            path, _, anchor = target.partition("#")
            other = DOCS[language].parent / path
            assert other.exists(), f"{DOCS[language].name}: {path} does not exist"
            if anchor:
                sections = {slug(line) for line in other.read_text(encoding="utf-8").splitlines()
                            if re.match(r"#{1,6} ", line)}
                assert anchor in sections, f"{DOCS[language].name}: {path} has no section #{anchor}"


# --- the two languages -------------------------------------------------------------------------------

def test_both_languages_give_the_same_commands():
    en, zh = (list(map(without_comments, files.fenced_blocks(doc(lang)))) for lang in LANGUAGES)
    assert len(en) == len(zh)
    for number, (a, b) in enumerate(zip(en, zh), 1):
        assert a == b, f"code block {number} differs between the English and the Chinese guide"


def test_both_languages_have_the_same_sections():
    def shape(text):
        return [len(line) - len(line.lstrip("#")) for line in text.splitlines() if re.match(r"#{1,6} ", line)]

    assert shape(doc("en")) == shape(doc("zh-CN"))
    # Troubleshooting headings are the error messages themselves: identical in both.
    en, zh = ([line for line in doc(lang).splitlines() if line.startswith("### `")] for lang in LANGUAGES)
    assert en == zh


def test_both_languages_have_the_same_tables():
    def tables(text):
        return [[(len(row), files.code_spans(row[0]), [files.code_spans(c) for c in row[1:]]) for row in table[1:]]
                for table in files.markdown_tables(text)]

    assert tables(doc("en")) == tables(doc("zh-CN"))


def test_both_languages_mention_the_same_names_and_values():
    def spans(text):
        prose = re.sub(r"^\s*```.*?^\s*```", "", text, flags=re.S | re.M)
        return sorted(" ".join(span.split()) for span in re.findall(r"`([^`]+)`", prose))

    assert spans(doc("en")) == spans(doc("zh-CN"))


def test_the_chinese_guide_is_chinese():
    prose = re.sub(r"^```.*?^```|`[^`]*`|\([^)]*\)", "", doc("zh-CN"), flags=re.S | re.M)
    han = len(re.findall(r"[\u4e00-\u9fff]", prose))
    assert han > 2000, f"only {han} Chinese characters outside code"
