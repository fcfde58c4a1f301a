-- A hard update (force=true: every affected server restarts at once, with
-- downtime) is the requester's reviewed choice (approvals.Payload
-- HardUpdate), with the risk hint hard_update. Like a scale-down it needs
-- two approvals anywhere.

-- +goose Up
INSERT INTO policies (name, description, environments, kinds, risks, approvals_required, approver_groups) VALUES
    ('hard-update', 'A hard update restarts every affected server at once (downtime): two approvals.',
        '{}', '{}', '{hard_update}', 2, '{approvers}');

-- +goose Down
-- Fails while approvals name the policy (approvals.policy_id): they keep
-- the policy they were given under.
DELETE FROM policies WHERE name = 'hard-update';
