"""What landing did: per file, per delivery and in all, and the summary printed at the end."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


class LandingError(RuntimeError):
    """Landing could not finish; the message says what happened and what to do next."""

    def __init__(self, message: str, report: LandingReport | None = None):
        super().__init__(message)
        self.report = report


class FileRejected(Exception):
    """This file is rejected whole; nothing from it is loaded."""

    def __init__(self, message: str, rows_read: int = 0):
        super().__init__(message)
        self.rows_read = rows_read


@dataclass
class FileResult:
    source: str
    period: str
    file: str  # path relative to the landing folder, '/' separated
    format: str
    encoding: str | None = None
    status: str = "loaded"  # loaded | rejected
    profile: str = ""  # the layout profile its header matched (profile.py)
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rows_duplicate: int = 0
    message: str = ""
    seconds: float = 0.0

    @property
    def conserved(self) -> bool:
        return self.rows_read == self.rows_loaded + self.rows_quarantined + self.rows_duplicate


@dataclass
class DeliveryResult:
    source: str
    period: str
    status: str  # landed | skipped | failed
    fingerprint: str
    files: list[FileResult] = field(default_factory=list)
    message: str = ""
    seconds: float = 0.0
    skipped_files: list[str] = field(default_factory=list)  # "<file>: <why>", not read

    @property
    def rows_read(self) -> int:
        return sum(f.rows_read for f in self.files)


@dataclass
class LandingReport:
    landing: Path
    deliveries: list[DeliveryResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # folder-level messages (names, stray files)
    demo_key: bool = False
    seconds: float = 0.0
    files_hashed: int = 0  # files read for their content hash
    files_hash_reused: int = 0  # files whose stored hash was reused (size, times, inode same)

    @property
    def files(self) -> list[FileResult]:
        return [f for d in self.deliveries for f in d.files]

    @property
    def landed(self) -> list[DeliveryResult]:
        return [d for d in self.deliveries if d.status == "landed"]

    @property
    def skipped(self) -> list[DeliveryResult]:
        return [d for d in self.deliveries if d.status == "skipped"]

    @property
    def failed(self) -> list[DeliveryResult]:
        return [d for d in self.deliveries if d.status == "failed"]

    @property
    def rejected_files(self) -> list[FileResult]:
        return [f for f in self.files if f.status == "rejected"]

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def totals(self) -> dict[str, int]:
        fs = self.files
        return {
            "deliveries_landed": len(self.landed), "deliveries_skipped": len(self.skipped),
            "deliveries_failed": len(self.failed), "files": len(fs),
            "files_rejected": len(self.rejected_files),
            "rows_read": sum(f.rows_read for f in fs), "rows_loaded": sum(f.rows_loaded for f in fs),
            "rows_quarantined": sum(f.rows_quarantined for f in fs),
            "rows_duplicate": sum(f.rows_duplicate for f in fs),
        }  # fmt: skip

    def summary_lines(self, verbose: bool = False) -> list[tuple[bool, str]]:
        """The summary's lines, each with whether it needs a person's attention (a failed
        delivery, a rejected or skipped file, a problem, where the details are)."""
        t = self.totals
        conserved = all(f.conserved for f in self.files if f.status == "loaded")
        lines = [
            (
                False,
                f"landing {self.landing}: {t['deliveries_landed']} deliveries landed, "
                f"{t['deliveries_skipped']} unchanged (skipped), {t['deliveries_failed']} failed; "
                f"{t['files']} files ({t['files_rejected']} rejected) in {self.seconds:.1f}s",
            ),
            (
                not conserved,
                f"rows: read {t['rows_read']:,} = loaded {t['rows_loaded']:,} + quarantined "
                f"{t['rows_quarantined']:,} + duplicate {t['rows_duplicate']:,}"
                + ("" if conserved else "  (NOT CONSERVED)"),
            ),
        ]
        if self.files_hash_reused:
            lines.append(
                (
                    False,
                    f"change detection: {self.files_hashed:,} file(s) hashed, "
                    f"{self.files_hash_reused:,} unchanged since hashed (raw.file_digests)",
                )
            )
        if self.demo_key:
            lines.append(
                (
                    False,
                    "NOTE: identifiers hashed with the labelled DEMO key; set YGT_HASH_KEY or "
                    "YGT_HASH_KEY_FILE for real data.",
                )
            )
        by_source: dict[str, list[int]] = {}
        for d in self.deliveries:
            if d.status == "skipped":
                continue
            if d.message:
                lines.append((True, f"  {d.source}/{d.period}: {d.status} -- {d.message}"))
            row = by_source.setdefault(d.source, [0] * 7)
            row[0] += 1
            for f in d.files:
                row[1] += 1
                row[2:] = [
                    row[2] + f.rows_read,
                    row[3] + f.rows_loaded,
                    row[4] + f.rows_quarantined,
                    row[5] + f.rows_duplicate,
                    row[6] + (f.status == "rejected"),
                ]
                if f.status == "rejected":
                    lines.append((True, f"  REJECTED {f.message}"))
                elif verbose:
                    lines.append(
                        (
                            False,
                            f"    {f.file}: read {f.rows_read:,}, loaded {f.rows_loaded:,}, "
                            f"quarantined {f.rows_quarantined:,}, duplicate {f.rows_duplicate:,}"
                            + (f" [{f.encoding}]" if f.encoding else ""),
                        )
                    )
        if by_source:
            lines.append(
                (
                    False,
                    f"  {'source':<26}{'deliveries':>11}{'files':>7}{'read':>12}{'loaded':>12}"
                    f"{'quarantined':>12}{'duplicate':>10}{'rejected':>9}",
                )
            )
            for name, (dl, nf, rd, ld, qu, du, rj) in by_source.items():
                lines.append(
                    (
                        False,
                        f"  {name:<26}{dl:>11}{nf:>7}{rd:>12,}{ld:>12,}{qu:>12,}{du:>10,}{rj:>9}",
                    )
                )
        if self.skipped:
            names = ", ".join(f"{d.source}/{d.period}" for d in self.skipped)
            lines.append(
                (False, f"  unchanged since last landing (use --force to re-land): {names}")
            )
        for d in self.deliveries:
            lines += [(True, f"  SKIPPED FILE {x}") for x in d.skipped_files]
        for p in self.problems:
            lines.append((True, f"  PROBLEM: {p}"))
        if self.rejected_files or any(f.rows_quarantined for f in self.files):
            lines.append(
                (
                    True,
                    "  details: raw.load_audit (per file) and raw.quarantine (file, line, "
                    "reason); fix the files in the landing folder and land again.",
                )
            )
        return lines

    def summary(self, verbose: bool = False) -> str:
        """Totals per source; every file with `verbose`. Rejected files are always listed."""
        return "\n".join(line for _, line in self.summary_lines(verbose))
