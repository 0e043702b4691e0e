"""Renaming and deleting saves (`tui.engine.save_files`)."""

from __future__ import annotations

import pytest

from tui.engine.campaign import Campaign, Turn
from tui.engine.save_files import delete_save, rename_save
from tui.engine.saves import SaveError, list_saves, load_save, write_save


def test_rename_moves_the_file_and_its_backups() -> None:
    campaign = Campaign(title="First Light")
    campaign.turns.append(Turn("do", "> You wake.", ["Dawn."]))
    path = write_save(campaign)
    write_save(campaign)  # now there is a backup
    assert path.with_name(path.name + ".bak1").exists()
    new = rename_save(path, "  Second   Dawn ")
    assert new.name.startswith("second-dawn-") and not path.exists()
    assert new.with_name(new.name + ".bak1").exists()
    assert load_save(new).title == "Second Dawn"
    assert [s.title for s in list_saves()] == ["Second Dawn"]
    with pytest.raises(SaveError, match="needs a name"):
        rename_save(new, "   ")


def test_renaming_to_a_taken_name_keeps_both() -> None:
    a = write_save(Campaign(title="Twin", created=0.0))  # the id "Twin" makes at time 0
    b = write_save(Campaign(title="Other", created=0.0))
    renamed = rename_save(b, "Twin")
    assert renamed != a and a.exists() and renamed.exists()
    assert sorted(s.title for s in list_saves()) == ["Twin", "Twin"]


def test_delete_removes_the_save_and_its_backups() -> None:
    campaign = Campaign(title="Gone")
    path = write_save(campaign)
    write_save(campaign)
    delete_save(path)
    assert list(path.parent.iterdir()) == []
    with pytest.raises(SaveError, match="could not delete"):
        delete_save(path)
