"""FigureDataset: a PNG and its vector copies, written whole; bad settings refused."""

from __future__ import annotations

import re

import pytest
from kedro.io import DatasetError
from matplotlib.figure import Figure
from PIL import Image

from scimta_kedro.datasets import FigureDataset


def _figure() -> Figure:
    figure = Figure(figsize=(2, 2))
    figure.subplots().plot([0, 1], [1, 0])
    return figure


def test_the_png_and_each_vector_format_are_written_at_the_dpi_asked(tmp_path):
    dataset = FigureDataset(
        filepath=str(tmp_path / "out" / "umap.png"),
        vector_formats=["pdf", "svg"],
        save_args={"dpi": 300},
    )
    dataset.save(_figure())
    assert (tmp_path / "out" / "umap.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "out" / "umap.pdf").read_bytes()[:5] == b"%PDF-"
    assert b"<svg" in (tmp_path / "out" / "umap.svg").read_bytes()[:500]
    assert dataset.vector_paths() == [tmp_path / "out" / "umap.pdf", tmp_path / "out" / "umap.svg"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "umap.pdf",
        "umap.png",
        "umap.svg",
    ]  # no temporary files left
    with Image.open(tmp_path / "out" / "umap.png") as image:
        assert image.size == (600, 600)  # 2 x 2 inches at 300 dpi
    assert dataset.exists()


def _rasterised_width_in_pdf(pdf: bytes) -> int:
    match = re.search(rb"/Subtype /Image.*?/Width (\d+)", pdf, re.DOTALL) or re.search(
        rb"/Width (\d+).*?/Subtype /Image", pdf, re.DOTALL
    )
    assert match, "the PDF holds no raster image"
    return int(match.group(1))


def test_the_png_takes_its_own_dpi_and_the_vector_file_keeps_the_shared_one(tmp_path):
    def scatter() -> Figure:
        figure = Figure(figsize=(2, 2))
        figure.subplots().scatter(range(50), range(50), rasterized=True)
        return figure

    FigureDataset(
        filepath=str(tmp_path / "both" / "umap.png"),
        vector_formats=["pdf"],
        save_args={"dpi": 300},
        png_save_args={"dpi": 150},
    ).save(scatter())
    FigureDataset(
        filepath=str(tmp_path / "shared" / "umap.png"),
        vector_formats=["pdf"],
        save_args={"dpi": 300},
    ).save(scatter())
    with Image.open(tmp_path / "both" / "umap.png") as image:
        assert image.size == (300, 300)  # 2 x 2 inches at 150 dpi
    with Image.open(tmp_path / "shared" / "umap.png") as image:
        assert image.size == (600, 600)
    # The PDF's rasterised points are drawn at the shared 300 dpi either way.
    both = _rasterised_width_in_pdf((tmp_path / "both" / "umap.pdf").read_bytes())
    assert both == _rasterised_width_in_pdf((tmp_path / "shared" / "umap.pdf").read_bytes())
    assert both > 300


def test_bad_settings_and_loading_are_refused_with_the_reason(tmp_path):
    with pytest.raises(DatasetError, match="must end in .png"):
        FigureDataset(filepath=str(tmp_path / "umap.jpg"))
    with pytest.raises(DatasetError, match=r"\['tiff'\] are not pdf, svg or eps"):
        FigureDataset(filepath=str(tmp_path / "umap.png"), vector_formats=["tiff"])
    with pytest.raises(DatasetError, match="write-only"):
        FigureDataset(filepath=str(tmp_path / "umap.png")).load()
