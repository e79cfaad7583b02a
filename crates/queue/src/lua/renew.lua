-- Extend a lease, only for the holder of this exact token.
-- KEYS[1]  the lease key
-- ARGV[1]  the held value: owner|token
-- ARGV[2]  new time to live, milliseconds
-- Returns 1 when renewed, 0 when the lease is lost (expired or taken).
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
