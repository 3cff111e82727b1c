"""E-mail: the messages PFlow writes (Jinja2 templates, English and Chinese) and the SMTP server it sends
them through (the standard library's smtplib)."""
