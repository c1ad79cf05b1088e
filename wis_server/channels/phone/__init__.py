"""The phone-conference adapter: two provider dialects behind one interface.

    provider webhook (form POST) ──▶ api/routes/phone ──▶ authenticate (dialect)
        TwiML: X-Twilio-Signature = b64 HMAC-SHA1(auth token, URL + sorted params)
        46elks: Basic auth or ?key=<WIS_PHONE_WEBHOOK_SECRET> (it does not sign)
      ──▶ webhooks.parse (dialect → CallEvent) ──▶ services.phone (lookups, acknowledge(),
          conference records) ──▶ ivr (pure: which script) ──▶ script.Script
      ──▶ render: TwiML XML (<Say language="sv-SE">, <Gather>, <Dial><Conference>)
                  46elks JSON (play <espeak-ng clip URL>, ivr, connect)

    dispatcher ──▶ PhoneChannel.send(Message) ──▶ httpx: TwiML Calls.json / 46elks a1/calls
        (the answer URL carries our delivery id; the call's webhooks then play the call-out)

`signature`, `script`, `ivr` and `webhooks` are pure (sans I/O); `channel` and `speech` do
the I/O (HTTP to the provider, the espeak-ng subprocess)."""
