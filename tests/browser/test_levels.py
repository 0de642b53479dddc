"""The listening policy, checked on the rendered book: decode every embedded WAV and measure it.

No player may be louder than ``tl.audio.MAX_PLAY_RMS_DB`` (RMS, dBFS), and none may be
silent. (No browser needed: the WAVs are in the pages as ``data:`` sources.)
"""

from __future__ import annotations

import base64
import io

import numpy as np
import rendered_book
import soundfile as sf

from tutorial_lib.audio import MAX_PLAY_RMS_DB

SILENT_DB = -60.0


def test_every_player_in_the_book_is_within_the_level_policy(html_dir):
    clips = rendered_book.embedded_clips(html_dir, rendered_book.html_pages(html_dir))
    assert len(clips) > 20, f"only {len(clips)} players found: is the book built?"
    problems = rendered_book.level_problems(clips, max_rms_db=MAX_PLAY_RMS_DB, silent_db=SILENT_DB)
    loudest = max(c.rms_db for c in clips)
    print(f"{len(clips)} players, loudest RMS {loudest:.1f} dBFS")
    assert not problems, "\n".join(problems)


def _page_with(*clips: np.ndarray) -> str:
    sources = []
    for x in clips:
        buf = io.BytesIO()
        sf.write(buf, x, 16000, format="WAV", subtype="PCM_16")
        b64 = base64.b64encode(buf.getvalue()).decode()
        sources.append(f'<audio controls><source src="data:audio/wav;base64,{b64}"></audio>')
    return "<html><body>" + "".join(sources) + "</body></html>"


def test_the_level_check_fails_on_a_loud_or_silent_clip(tmp_path):
    """Broken on purpose: a full-scale noise clip and a silent one are caught, a clip at the
    limit is not."""
    rng = np.random.default_rng(0)
    at_limit = 10 ** (MAX_PLAY_RMS_DB / 20) * rng.standard_normal(16000) / 1.0
    loud = np.clip(rng.standard_normal(16000), -1, 1)
    (tmp_path / "page.html").write_text(_page_with(at_limit.clip(-1, 1), loud, np.zeros(16000)))
    clips = rendered_book.embedded_clips(tmp_path, ["page.html"])
    assert [c.index for c in clips] == [0, 1, 2]
    problems = rendered_book.level_problems(clips, max_rms_db=MAX_PLAY_RMS_DB, silent_db=SILENT_DB)
    assert len(problems) == 2, problems
    assert "#1 is too loud" in problems[0] and "#2 is silent" in problems[1]
