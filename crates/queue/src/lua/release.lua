-- Release a lease, only for the holder of this exact token.
-- KEYS[1]  the lease key
-- ARGV[1]  the held value: owner|token
-- Returns 1 when released, 0 when it was no longer held.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
