-- Feishu operators map to Warden users for card approvals.
ALTER TABLE users ADD COLUMN feishu_open_id TEXT;
CREATE UNIQUE INDEX users_feishu_open_id ON users (feishu_open_id) WHERE feishu_open_id IS NOT NULL;
