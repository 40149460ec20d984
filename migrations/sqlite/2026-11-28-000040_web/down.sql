DROP TABLE contact_invites;
DROP TABLE recovery_codes;
DROP TABLE user_totp;
DROP TABLE web_sessions;
