package redislock

import "github.com/redis/go-redis/v9"

// The scripts take the lock key as KEYS[1] and, for Acquire, the token
// counter as KEYS[2]. Times are Unix milliseconds computed in Go from
// Options.Now and passed as strings, so that the scripts do no arithmetic
// on them; tokens are compared as the decimal strings INCR stored.

// acquireScript takes the lease unless an unexpired one is there.
// ARGV: holder, now, expires, pexpire (milliseconds for PEXPIRE).
// Returns {1, token} when taken, {0, expires of the current lease} when
// locked.
var acquireScript = redis.NewScript(`
local cur = redis.call('HGET', KEYS[1], 'expires')
local expires = tonumber(cur)
if expires and expires > tonumber(ARGV[2]) then
	return {0, cur}
end
local token = redis.call('INCR', KEYS[2])
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'holder', ARGV[1], 'token', tostring(token), 'expires', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return {1, token}
`)

// heldCheck is the Lua prelude of renewScript and releaseScript: it
// returns 0 from the script unless the lock key holds the lease given by
// ARGV holder, token, now and it has not expired.
const heldCheck = `
local cur = redis.call('HMGET', KEYS[1], 'holder', 'token', 'expires')
local expires = tonumber(cur[3])
if cur[1] ~= ARGV[1] or cur[2] ~= ARGV[2] or not expires or expires <= tonumber(ARGV[3]) then
	return 0
end
`

// renewScript extends a held lease. ARGV: holder, token, now, expires,
// pexpire. Returns 1 when renewed, 0 when not held.
var renewScript = redis.NewScript(heldCheck + `
redis.call('HSET', KEYS[1], 'expires', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
`)

// releaseScript deletes the lock key of a held lease; the token counter
// stays. ARGV: holder, token, now. Returns 1 when released, 0 when not
// held.
var releaseScript = redis.NewScript(heldCheck + `
redis.call('DEL', KEYS[1])
return 1
`)
