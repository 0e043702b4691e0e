from tui.engine.actions import Mode, cut_at_new_action, make_action, next_mode, split_prefix


def test_do_adds_you_and_period() -> None:
    assert make_action(Mode.DO, "open the door").text == "> You open the door."


def test_do_turns_first_person_to_second_outside_quotes() -> None:
    action = make_action(Mode.DO, 'I draw my sword and shout "I am the king!" at myself')
    assert action.text == '> You draw your sword and shout "I am the king!" at yourself.'


def test_do_contractions_and_am() -> None:
    assert make_action(Mode.DO, "I'm tired so I am resting").text == \
        "> You're tired so you are resting."


def test_do_keeps_existing_you_and_punctuation() -> None:
    assert make_action(Mode.DO, "you run!").text == "> You run!"


def test_say_quotes_and_capitalises() -> None:
    assert make_action(Mode.SAY, "hello").text == '> You say "Hello."'
    assert make_action(Mode.SAY, '"who goes there?"').text == '> You say "Who goes there?"'


def test_story_is_kept_as_typed() -> None:
    assert make_action(Mode.STORY, "The wind howls, and i shiver").text == \
        "The wind howls, and i shiver"


def test_empty_input_continues() -> None:
    assert make_action(Mode.SAY, "   ").mode is Mode.CONTINUE
    assert make_action(Mode.DO, "").text == ""


def test_prefix_switches_mode_for_one_line() -> None:
    assert split_prefix("say hi there", Mode.DO) == (Mode.SAY, "hi there")
    assert split_prefix("Story It rains.", Mode.DO) == (Mode.STORY, "It rains.")
    assert split_prefix("doors are shut", Mode.SAY) == (Mode.SAY, "doors are shut")


def test_tab_cycles_modes() -> None:
    assert next_mode(Mode.DO) is Mode.SAY
    assert next_mode(Mode.SAY) is Mode.STORY
    assert next_mode(Mode.STORY) is Mode.DO


def test_model_text_cut_at_new_action_line() -> None:
    assert cut_at_new_action("The door opens.\n> You walk in.\nMore") == "The door opens."
    assert cut_at_new_action("Fine > not a line start") == "Fine > not a line start"
    assert cut_at_new_action("> You act") == ""


def test_say_a_question_ends_with_a_question_mark() -> None:
    assert make_action(Mode.SAY, "who are you").text == '> You say "Who are you?"'
    assert make_action(Mode.SAY, "who are you?").text == '> You say "Who are you?"'
    assert make_action(Mode.SAY, "are you coming").text == '> You say "Are you coming?"'
    assert make_action(Mode.SAY, "hello. where is the inn").text == \
        '> You say "Hello. where is the inn?"'
    assert make_action(Mode.SAY, "what a night").text == '> You say "What a night."'
    assert make_action(Mode.SAY, "do it now").text == '> You say "Do it now."'
    assert make_action(Mode.SAY, "have a drink").text == '> You say "Have a drink."'
    assert make_action(Mode.SAY, "do you know her").text == '> You say "Do you know her?"'
    assert make_action(Mode.SAY, "is it raining").text == '> You say "Is it raining?"'
    assert make_action(Mode.SAY, "stop!").text == '> You say "Stop!"'
