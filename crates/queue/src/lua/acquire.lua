-- Acquire a lease if nobody holds it, with a new fencing token.
-- KEYS[1]  the lease key
-- KEYS[2]  the fencing-token counter (shared by every lease of the deployment)
-- ARGV[1]  owner (unique per process)
-- ARGV[2]  time to live, milliseconds
-- Returns the fencing token, or nil when the lease is held.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return nil
end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. token, 'PX', ARGV[2])
return token
