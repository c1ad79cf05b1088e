"""Outbound channels (SMTP, SMS, Web Push, Rakel, phone) behind one port; built by later issues."""
