"""The dataset page: filters, a preview of cleaned examples, and the export as a zip to download."""

from __future__ import annotations

import io
import tempfile
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import streamlit as st

from adapters.dashboard.shell import reader, settings, tr
from adapters.dataset import FORMATS, DatasetError, ExportOptions, export_dataset, preview_dataset
from adapters.runtime import personas
from bot.ports import StorageError

RESULT = "dataset_result"  # (kind, summary, examples or zip bytes, file name), kept across reruns
ANY = ""


def _options(values: dict[str, Any]) -> ExportOptions:
    day: date | None = values["since"]
    since = None if day is None else datetime(day.year, day.month, day.day, tzinfo=UTC)
    return ExportOptions(
        format=values["format"],
        min_rating=None if values["min_rating"] == ANY else int(values["min_rating"]),
        since=None if since is None else since.timestamp(),
        platform=values["platform"] or None,
        persona=values["persona"] or None,
        language=values["language"] or None,
        seed=int(values["seed"]),
        validation=float(values["validation"]),
    )


def _zipped(out: Path) -> bytes:
    """Every file the export wrote, in one zip."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(out.iterdir()):
            archive.write(path, path.name)
    return buffer.getvalue()


def _run(kind: str, options: ExportOptions) -> None:
    current = settings()
    found, default = personas(), current.default_persona
    if kind == "preview":
        examples, summary = preview_dataset(current.db, options, found, default, n=5)
        st.session_state[RESULT] = (kind, summary, examples, "")
        return
    # Written to a private temporary directory, zipped into memory, and removed at once.
    with tempfile.TemporaryDirectory(prefix="tertulia-dataset-") as tmp:
        summary = export_dataset(current.db, Path(tmp), options, found, default)
        name = f"tertulia-{options.format}-{date.today().isoformat()}.zip"
        st.session_state[RESULT] = (kind, summary, _zipped(Path(tmp)), name)


def show() -> None:
    st.title(tr("dataset"))
    st.caption(tr("dataset_about"))
    found = reader()
    if found is None:
        return
    any_label = tr("any")
    with st.form("dataset"):
        left, middle, right = st.columns(3)
        values: dict[str, Any] = {
            "format": left.selectbox(tr("format"), FORMATS, key="ds_format"),
            # -1 and 0 select what "any" does: a 👎 answer is never a training target.
            "min_rating": left.selectbox(
                tr("min_rating"), [ANY, "1"], key="ds_rating",
                format_func=lambda v: tr("rating_any") if v == ANY else tr("rating_1"),
            ),
            "since": left.date_input(tr("since"), value=None, key="ds_since"),
            "platform": middle.selectbox(
                tr("platform"), [ANY, *found.platforms()], key="ds_platform",
                format_func=lambda v: v or any_label,
            ),
            "persona": middle.selectbox(
                tr("persona"), [ANY, *personas()], key="ds_persona",
                format_func=lambda v: v or any_label,
            ),
            "language": middle.selectbox(
                tr("lang"), [ANY, "es", "en"], key="ds_language",
                format_func=lambda v: v or any_label,
            ),
            "seed": right.number_input(tr("seed"), value=0, step=1, key="ds_seed"),
            "validation": right.slider(tr("validation"), 0.0, 0.5, 0.1, 0.05, key="ds_valid"),
        }  # fmt: skip
        preview = st.form_submit_button(tr("preview"))
        export = st.form_submit_button(tr("export"), type="primary")
    if preview or export:
        try:
            _run("preview" if preview else "export", _options(values))
        except (DatasetError, StorageError) as exc:
            st.session_state.pop(RESULT, None)
            st.error(str(exc))
    if RESULT in st.session_state:
        _result(*st.session_state[RESULT])


def _result(kind: str, summary: dict[str, Any], payload: Any, name: str) -> None:
    files = summary["files"]
    cols = st.columns(4)
    cols[0].metric(tr("train_examples"), f"{files['train.jsonl']['examples']:,}")
    cols[1].metric(tr("validation_examples"), f"{files['validation.jsonl']['examples']:,}")
    exported, read = summary["conversations"]["exported"], summary["conversations"]["read"]
    cols[2].metric(tr("conversations"), f"{exported:,} / {read:,}")
    cols[3].metric(tr("tokens"), f"{summary['tokens']['total']:,}")
    for problem in summary["errors"]:
        st.error(problem)
    for warning in summary["warnings"]:
        st.warning(warning)
    dropped = [
        {tr("unit"): unit, tr("reason"): reason, tr("count"): n}
        for unit, counts in summary["dropped"].items()
        for reason, n in counts.items()
    ]
    if dropped:
        st.subheader(tr("left_out"))
        st.dataframe(dropped, hide_index=True)
    if kind == "preview":
        st.subheader(tr("examples", count=len(payload)))
        for example in payload:
            st.json(example, expanded=False)
    else:
        st.download_button(tr("download"), payload, name, "application/zip", key="ds_download")
    with st.expander(tr("whole_summary")):
        st.json(summary, expanded=False)
