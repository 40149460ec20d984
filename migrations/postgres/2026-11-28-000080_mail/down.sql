DROP TABLE mail_undeliverable;
DROP TABLE mail_attachments;
DROP TABLE mail_messages;
