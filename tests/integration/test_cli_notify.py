"""`wis notify test` on both databases: a test message through the outbox and the real
configured channel (a real SMTP server, the local 46elks-style gateway), the ledger's outcome
printed; clear refusals for a user without an address or a push subscription."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.integration.test_cli import InProcess, api_for, env_for, sign_in, wis  # noqa: F401
from tests.peers.sms_gateway import SmsGateway
from tests.peers.smtp_server import SmtpPeer

PASSWORD = "jourhavande-tjänsteman-7"
SECRET = "hook-" + "s3cr3t" * 4


async def test_notify_test_sends_through_the_configured_channel_and_reports_the_outcome(
        tmp_path: Path, database_url: str, wis: InProcess) -> None:  # noqa: F811
    async with SmtpPeer() as smtp, SmsGateway() as gateway:
        env = env_for(tmp_path, database_url, WIS_CHANNELS="email,sms,push",
                      WIS_SMTP_URL=f"smtp://127.0.0.1:{smtp.port}",
                      WIS_MAIL_FROM="wis@lansstyrelsen.example",
                      WIS_SMS_API_URL=gateway.url, WIS_SMS_API_USER=gateway.user,
                      WIS_SMS_API_PASSWORD=gateway.password, WIS_SMS_FROM="WIS",
                      WIS_SMS_WEBHOOK_SECRET=SECRET, WIS_PUBLIC_URL="https://wis.example.se")

        async def run(*args: str, **extra: str) -> tuple[int, str, str]:
            done = await asyncio.to_thread(wis, {**env, **extra}, *args)
            return done.returncode, done.stdout, done.stderr

        assert (await run("init"))[0] == 0
        assert (await run("actor", "add", "--name", "Solna stad", "--short-name", "SOL"))[0] == 0
        code, _, err = await run("user", "add", "--actor", "SOL", "--username", "tib.solna",
                                 WIS_USER_PASSWORD=PASSWORD)
        assert code == 0, err
        for args, why in (  # before they gave any address
                (("--channel", "email"), "'tib.solna' has no e-mail address"),
                (("--channel", "sms"), "'tib.solna' has no mobile number"),
                (("--channel", "push"), "'tib.solna' has no push subscription")):
            code, out, err = await run("notify", "test", "--user", "tib.solna", *args)
            assert code == 2 and why in err, (args, out, err)
            assert "Traceback" not in err
        code, _, err = await run("notify", "test", "--user", "nobody", "--channel", "sms")
        assert code == 2 and "no user named 'nobody'" in err
        async with api_for(env) as api:
            auth = await sign_in(api, "tib.solna", PASSWORD)
            r = await api.put("/api/v1/me/notifications", headers=auth, json={
                "email": "tib@solna.example", "phone": "070-111 22 33"})
            assert r.status_code == 200, r.text

        code, out, err = await run("notify", "test", "--user", "tib.solna", "--channel", "email")
        assert code == 0, out + err
        assert "email sent" in out and "reached the channel" in out
        [mail] = smtp.recorder.messages
        assert mail.rcpt_tos == ["tib@solna.example"]
        assert b"Testmeddelande" in mail.content

        code, out, err = await run("notify", "test", "--user", "tib.solna", "--channel", "sms")
        assert code == 0, out + err
        assert "sms sent" in out
        [sms] = gateway.sent
        assert sms.to == "+46701112233" and "testmeddelande" in sms.message

        gateway.fail_next(401)  # the provider refuses our credentials: said, not hidden
        code, out, err = await run("notify", "test", "--user", "tib.solna", "--channel", "sms")
        assert code == 1 and "sms failed" in out and "NOT sent" in out, out + err

        code, _, err = await run("notify", "test", "--user", "tib.solna", "--channel", "sms",
                                 WIS_CHANNELS="email", WIS_SMS_API_URL="")
        assert code == 2 and "the sms channel is not enabled" in err
