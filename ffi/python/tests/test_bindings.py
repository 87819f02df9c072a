"""Smoke tests of the generated Python bindings against a live server: the whole citizen flow
through asyncio coroutines, the outbox listener and key store implemented in Python, and the
error enum raised as Python exceptions. The behaviour itself is tested in Rust; these tests show
that the binding layer carries it."""

import asyncio
import base64
import datetime
import threading

import pytest

from conftest import FixedKeyStore
from tipline_ffi import (
    ApiError, ClientConfig, Direction, Draft, DraftAttachment, DraftPlace, Language, Localizer,
    OutboxListener, OutboxStatus, Person, Precision, TiplineClient, When, language_from_tag,
    negotiate_language,
)

UNIT = "dk-infohus-vestegnen"
REPLY = "Tak for din henvendelse. Vi ser på sagen i dag."


class Recorder(OutboxListener):
    """Keeps every outbox change it hears (called on the core's threads)."""

    def __init__(self):
        self.items = []
        self._lock = threading.Lock()

    def on_change(self, item):
        with self._lock:
            self.items.append(item)

    def statuses(self, report_id):
        with self._lock:
            return [type(i.status).__name__ for i in self.items if i.report_id == report_id]


def a_draft(**changes):
    fields = dict(
        category="radicalisation",
        text="En ung mand deler IS-videoer i en gruppechat for skoleelever.",
        language="da",
        region="DK-84",
    )
    fields.update(changes)
    return Draft(**fields)


def test_report_with_photo_is_delivered_answered_and_alerted(server, config, photo):
    async def flow():
        # Given a device with a Python key store and listener, and the server's directory
        keys = FixedKeyStore()
        client = await TiplineClient.open(config, keys)
        heard = Recorder()
        client.set_listener(heard)
        directory = await client.refresh_directory()
        assert UNIT in [u.id for u in directory.units]
        assert "radicalisation" in [c.id for c in directory.categories]
        assert client.directory().version == directory.version

        # When the reporter files a report with a photo that carries EXIF, and the outbox flushes
        draft = a_draft(
            attachments=[DraftAttachment(name="chat.jpg", media_type="image/jpeg", path=str(photo))],
            people=[Person(description="Omkring 20 år, sort jakke")],
            place=DraftPlace.POSITION(latitude=55.6761, longitude=12.5683, precision=Precision.NEIGHBOURHOOD),
            happened=When.EXACT(at=datetime.datetime.now(datetime.timezone.utc)),
        )
        filed = await client.file_report(draft)
        assert "tipline local store" in keys.asked  # asked when the case book is first written
        assert filed.unit_id == UNIT
        assert filed.stripped == [True]
        assert len(filed.codename.split()) >= 8
        summary = await client.flush()

        # Then it is delivered with the server's receipt, and the listener heard every step
        assert (summary.delivered, summary.pending, summary.failed) == (1, 0, 0)
        [item] = await client.outbox()
        assert item.report_id == filed.report_id and item.case_id == filed.case_id
        assert item.status.is_delivered()
        assert abs(item.status.received_at - datetime.datetime.now(datetime.timezone.utc)) < datetime.timedelta(minutes=1)
        steps = heard.statuses(filed.report_id)
        assert steps[0] == "OutboxStatus.QUEUED" and steps[-1] == "OutboxStatus.DELIVERED", steps
        assert "OutboxStatus.SENDING" in steps
        [case] = await client.cases()
        assert case.case_id == filed.case_id
        assert await client.codename(filed.case_id) == filed.codename

        # When the unit's desk opens it, acknowledges it and replies
        desk = server.desk(UNIT, "reply", "--text", REPLY)
        [report] = desk["reports"]
        assert report["report_id"] == filed.report_id and report["text"] == draft.text
        [attachment] = report["attachments"]
        seen = base64.urlsafe_b64decode(attachment["bytes_b64"] + "==")
        assert seen.startswith(b"\xff\xd8") and b"Exif" not in seen and b"GPS" not in seen

        # Then the reporter reads the reply, its signature checked against the directory
        conversation = await client.conversation(filed.case_id)
        assert [(m.from_unit, m.text) for m in conversation] == [(True, REPLY)]
        assert conversation[0].unit_id == UNIT

        # And a follow-up goes back to the unit
        follow_up = await client.send_follow_up(filed.case_id, "Han er der igen i dag.")
        assert not follow_up.from_unit

        # When the unit publishes an alert for the region, the device shows it
        published = server.desk(UNIT, "alert", "--region", "DK-84", "--language", "da",
                                "--title", "Vær opmærksom", "--body", "Opslag om rekruttering i området.")
        alerts = await client.alerts("DK-84", Language.DANISH)
        assert [(a.alert_id, a.title) for a in alerts] == [(published["alert_id"], "Vær opmærksom")]
        assert alerts[0].severity_label
        assert await client.alerts("ES", Language.SPANISH) == []

        # And hotlines come with their status in the reporter's language
        hotlines = client.hotlines("DK-84", Language.DANISH, datetime.datetime.now(datetime.timezone.utc))
        assert hotlines and all(h.dial_uri.startswith("tel:") and h.status for h in hotlines)

    asyncio.run(flow())


def test_codename_recovers_the_case_on_another_device(server, config, tmp_path):
    async def flow():
        # Given a report filed and answered on one phone
        phone = await TiplineClient.open(config, FixedKeyStore(b"phone"))
        await phone.refresh_directory()
        filed = await phone.file_report(a_draft())
        assert (await phone.flush()).delivered == 1
        server.desk(UNIT, "reply", "--text", REPLY)
        # When the reporter types the codename on a new phone
        other = ClientConfig(storage_dir=str(tmp_path / "new-phone"), base_url=config.base_url,
                             authority_key=config.authority_key, timeout=datetime.timedelta(seconds=10))
        new_phone = await TiplineClient.open(other, FixedKeyStore(b"new phone"))
        await new_phone.refresh_directory()
        case_id = await new_phone.recover_case(filed.codename)
        # Then the case and its reply are there
        assert case_id == filed.case_id
        assert [m.text for m in await new_phone.conversation(case_id)] == [REPLY]

    asyncio.run(flow())


def test_bad_input_raises_python_exceptions_an_app_can_act_on(server, config):
    async def flow():
        client = await TiplineClient.open(config, FixedKeyStore())
        # Given no directory yet, filing is refused as "not found"
        with pytest.raises(ApiError.NotFound):
            await client.file_report(a_draft())
        await client.refresh_directory()
        # When a draft has an empty text and an unknown category
        with pytest.raises(ApiError.InvalidInput) as raised:
            await client.file_report(a_draft(text="  ", category="no-such-category"))
        # Then each problem names its field, with a sentence in the reporter's language
        problems = {(p.field, p.code) for p in raised.value.fields}
        assert problems == {("text", "field-required"), ("category", "category-unknown")}
        english = Localizer(Language.ENGLISH)
        for problem in raised.value.fields:
            assert problem.message(english) not in ("", problem.code)
        assert await client.outbox() == [], "nothing was filed"
        # A mistyped codename is a field problem too, and an unknown case is "not found"
        with pytest.raises(ApiError.InvalidInput) as raised:
            await client.recover_case("not a codename")
        assert raised.value.fields[0].field == "codename"
        with pytest.raises(ApiError.NotFound):
            await client.codename("00" * 16)
        with pytest.raises(ApiError.InvalidInput):
            await client.retry("not hex")

    asyncio.run(flow())


def test_wrong_authority_and_unreachable_server(server, config, tmp_path):
    async def flow():
        # Given a device that pins another authority key, the served directory is refused
        forged = ClientConfig(storage_dir=config.storage_dir, base_url=config.base_url,
                              authority_key="A" * 43)
        client = await TiplineClient.open(forged, FixedKeyStore())
        with pytest.raises(ApiError.Crypto):
            await client.refresh_directory()
        assert client.directory() is None
        # A key that is not base64url is a field problem
        with pytest.raises(ApiError.InvalidInput) as raised:
            await TiplineClient.open(ClientConfig(storage_dir=config.storage_dir, base_url=config.base_url,
                                                  authority_key="???"), FixedKeyStore())
        assert raised.value.fields[0].field == "authority_key"
        # A server that does not answer is a retryable network error
        offline = ClientConfig(storage_dir=str(tmp_path / "offline"), base_url="http://127.0.0.1:9",
                               authority_key=config.authority_key, timeout=datetime.timedelta(seconds=2))
        client = await TiplineClient.open(offline, FixedKeyStore())
        with pytest.raises(ApiError.Network) as raised:
            await client.refresh_directory()
        assert raised.value.reason == "reason-offline" and raised.value.retryable

    asyncio.run(flow())


def test_localisation_reaches_python():
    assert language_from_tag("ar-EG") == Language.ARABIC
    assert language_from_tag("fr") is None
    assert negotiate_language(["fr-FR", "da-DK", "en"]) == Language.DANISH
    assert Language.ARABIC.code() == "ar"
    assert Language.ARABIC.direction() == Direction.RIGHT_TO_LEFT
    arabic = Localizer(Language.ARABIC)
    assert arabic.direction() == Direction.RIGHT_TO_LEFT
    assert arabic.text("reason-offline") != Localizer(Language.ENGLISH).text("reason-offline")
