"""The game store's Lua scripts: the rules that touch the waiting room, and a game's end.

Redis runs a script at once, with nothing else in between, so each of these rules holds
across every web process without the optimistic retries of WATCH/MULTI/EXEC: under
load every enqueue, pairing or start changed the waiting room, and the other processes'
transactions on it ran again and again (a fifth of a web process's CPU at 1,500
judges). Each script decides exactly as the in-memory store does.

A waiter is a hash, `<prefix>waiter:<sid>`, with the fields `json` (the waiter as it
was enqueued), `ticket` and `player` (strings: a 62-bit ticket is no Lua number),
`pool` (the queue it stands in) and `seeks` (the queue its partner comes from; "" for a
waiter drawn for a machine, who is in no queue), and once set `partner` (a sid) and
`claimed`. `<prefix>queue:<pool>` is a sorted set of a pool's waiters by arrival. The
scripts that look at other waiters build those keys from the prefix (ARGV[1]): fine on
one Redis server; Redis Cluster would need the keys in KEYS and in one hash slot.
"""

# KEYS: waiting, seats, arrivals, waiter:<sid>, queue:<pool>
# ARGV: sid, json, ticket, player, pool, seeks
ENQUEUE = """
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return 'already_waiting' end
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return 'in_game' end
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[4], 'json', ARGV[2], 'ticket', ARGV[3], 'player', ARGV[4],
           'pool', ARGV[5], 'seeks', ARGV[6])
if ARGV[6] ~= '' then redis.call('ZADD', KEYS[5], redis.call('INCR', KEYS[3]), ARGV[1]) end
return 'ok'
"""

# The longest-waiting waiter of the pool this one seeks who is free (no partner, not
# claimed) and another player; both are marked as each other's partner. Returns the
# partner's json, or false. KEYS: waiter:<sid>; ARGV: prefix, sid
PAIR = """
local mine = redis.call('HMGET', KEYS[1], 'seeks', 'partner', 'claimed', 'player')
if not mine[1] or mine[1] == '' or mine[2] or mine[3] then return false end
for _, other in ipairs(redis.call('ZRANGE', ARGV[1] .. 'queue:' .. mine[1], 0, -1)) do
    if other ~= ARGV[2] then
        local key = ARGV[1] .. 'waiter:' .. other
        local theirs = redis.call('HMGET', key, 'partner', 'claimed', 'player', 'json')
        if theirs[4] and not theirs[1] and not theirs[2] and theirs[3] ~= mine[4] then
            redis.call('HSET', KEYS[1], 'partner', other)
            redis.call('HSET', key, 'partner', ARGV[2])
            return theirs[4]
        end
    end
end
return false
"""

# Two partners both still there and still each other's: both claimed, {1, json, json}.
# Otherwise whoever is still there loses the partner who left: {0, their json...}.
# KEYS: waiter:<first>, waiter:<second>; ARGV: first, second
CLAIM_PAIR = """
local a = redis.call('HGET', KEYS[1], 'partner')
local b = redis.call('HGET', KEYS[2], 'partner')
if a == ARGV[2] and b == ARGV[1] then
    redis.call('HSET', KEYS[1], 'claimed', '1')
    redis.call('HSET', KEYS[2], 'claimed', '1')
    return {1, redis.call('HGET', KEYS[1], 'json'), redis.call('HGET', KEYS[2], 'json')}
end
local left = {0}
if a == ARGV[2] then
    redis.call('HDEL', KEYS[1], 'partner')
    table.insert(left, redis.call('HGET', KEYS[1], 'json'))
end
if b == ARGV[1] then
    redis.call('HDEL', KEYS[2], 'partner')
    table.insert(left, redis.call('HGET', KEYS[2], 'json'))
end
return left
"""

# A waiter of this ticket, free: claimed, returns its json; else false.
# KEYS: waiter:<sid>; ARGV: ticket
CLAIM_ALONE = """
local w = redis.call('HMGET', KEYS[1], 'ticket', 'partner', 'claimed', 'json')
if not w[4] or w[1] ~= ARGV[1] or w[2] or w[3] then return false end
redis.call('HSET', KEYS[1], 'claimed', '1')
return w[4]
"""

# The waiter gone from the waiting room: {json, partner, claimed}, or false.
# KEYS: waiting, waiter:<sid>; ARGV: prefix, sid
DROP_WAITER = """
local w = redis.call('HMGET', KEYS[2], 'json', 'partner', 'claimed', 'pool')
if not w[1] then return false end
redis.call('DEL', KEYS[2])
redis.call('SREM', KEYS[1], ARGV[2])
redis.call('ZREM', ARGV[1] .. 'queue:' .. w[4], ARGV[2])
return {w[1], w[2], w[3]}
"""

# A game starts: its people leave the waiting room and take their seats. Returns the
# sids that had left the waiting room meanwhile (they are seated, and then leave).
# KEYS: waiting, games, seats, latest, game:<id>
# ARGV: prefix, the game's json, its id, then each person's sid and seat (json)
ADD_GAME = """
local gone = {}
for n = 4, #ARGV, 2 do
    local sid = ARGV[n]
    if redis.call('SREM', KEYS[1], sid) == 1 then
        local key = ARGV[1] .. 'waiter:' .. sid
        local pool = redis.call('HGET', key, 'pool')
        if pool then redis.call('ZREM', ARGV[1] .. 'queue:' .. pool, sid) end
        redis.call('DEL', key)
    else
        table.insert(gone, sid)
    end
    redis.call('HSET', KEYS[3], sid, ARGV[n + 1])
    redis.call('HSET', KEYS[4], sid, ARGV[3])
end
redis.call('SET', KEYS[5], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[3])
return gone
"""

# The first end wins: the game removed, its message count kept for later verdicts, and
# the seats freed that are still this game's. Returns the game's json, or false.
# KEYS: game:<id>, games, seats, ended:<id>; ARGV: game id, seconds to keep the count
END = """
local raw = redis.call('GET', KEYS[1])
if not raw then return false end
local game = cjson.decode(raw)
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('SET', KEYS[4], #game.history, 'EX', ARGV[2])
for _, seat in ipairs(game.seats) do
    if type(seat.sid) == 'string' then
        local at = redis.call('HGET', KEYS[3], seat.sid)
        if at and cjson.decode(at)[1] == tonumber(ARGV[1]) then
            redis.call('HDEL', KEYS[3], seat.sid)
        end
    end
end
return raw
"""
