-- How a change request finds its approval policy, in one place for the Go
-- code (approvals.PolicyFor) and for queries that match many requests at once
-- (the approvals queue).

-- +goose Up
-- policy_for returns the policy that applies to a request of kind with the
-- given environments and risk hints: of the enabled policies whose non-empty
-- lists all match (environments overlap, kind listed, a risk hint listed),
-- the strictest: most approvals, then the most specific (most non-empty
-- lists), then the oldest. No row means no policy applies, and the request
-- cannot be approved.
-- +goose StatementBegin
CREATE FUNCTION policy_for(request_environments text[], request_kind text, request_risks text[])
RETURNS SETOF policies LANGUAGE sql STABLE AS $$
    SELECT p.* FROM policies p
    WHERE p.enabled
      AND (cardinality(p.environments) = 0 OR p.environments && request_environments)
      AND (cardinality(p.kinds) = 0 OR request_kind = ANY (p.kinds))
      AND (cardinality(p.risks) = 0 OR p.risks && request_risks)
    ORDER BY p.approvals_required DESC,
             (cardinality(p.environments) > 0)::int + (cardinality(p.kinds) > 0)::int
               + (cardinality(p.risks) > 0)::int DESC,
             p.id
    LIMIT 1
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION policy_for(text[], text, text[]);
