"""Renaming and deleting saves from the home screen (`tui.engine.saves`)."""

from __future__ import annotations

import pytest

from tui.engine.campaign import Campaign, Turn
from tui.engine.saves import (
    SaveError,
    delete_save,
    list_saves,
    load_save,
    release_save,
    rename_save,
    write_save,
)


def test_rename_moves_the_file_and_its_backups() -> None:
    campaign = Campaign(title="First Light")
    campaign.turns.append(Turn("do", "> You wake.", ["Dawn."]))
    path = write_save(campaign)
    campaign.turns.append(Turn("do", "> You stand.", ["Light."]))
    write_save(campaign)  # a second state: the folder keeps a backup of the first
    release_save(campaign)  # this process wrote it: let the rename take it
    new = rename_save(path, "  Second   Dawn ")
    assert new.name.startswith("second-dawn-") and not path.exists()
    assert load_save(new).title == "Second Dawn"
    assert len(load_save(new).turns) == 2
    assert [s.title for s in list_saves()] == ["Second Dawn"]
    with pytest.raises(SaveError, match="needs a name"):
        rename_save(new, "   ")


def test_renaming_to_a_taken_name_keeps_both() -> None:
    a = write_save(Campaign(title="Twin", created=0.0))  # the id "Twin" makes at time 0
    other = Campaign(title="Other", created=0.0)
    b = write_save(other)
    release_save(other)
    renamed = rename_save(b, "Twin")
    assert renamed != a and a.exists() and renamed.exists()
    assert sorted(s.title for s in list_saves()) == ["Twin", "Twin"]


def test_delete_removes_the_save_and_its_backups() -> None:
    campaign = Campaign(title="Gone")
    path = write_save(campaign)
    write_save(campaign)
    release_save(campaign)
    delete_save(path)
    assert list(path.parent.iterdir()) == []
    with pytest.raises(SaveError, match="could not delete"):
        delete_save(path)
