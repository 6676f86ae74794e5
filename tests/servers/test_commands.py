"""The command set through the real redis-py client, on every implementation."""

from __future__ import annotations

import pytest
import redis


def test_set_get_returns_the_stored_value(client):
    assert client.set("greeting", b"hello \x00 world") is True
    assert client.get("greeting") == b"hello \x00 world"
    assert client.get("missing") is None


def test_ping_echo(client):
    assert client.ping() is True
    assert client.echo("hi") == b"hi"


def test_del_exists_dbsize_flush(client):
    client.mset({"a": 1, "b": 2, "c": 3})
    assert client.exists("a", "b", "nope") == 2
    assert client.dbsize() == 3
    assert client.delete("a", "nope") == 1
    assert client.dbsize() == 2
    assert client.flushdb() is True
    assert client.dbsize() == 0
    client.set("x", 1)
    assert client.flushall() is True
    assert client.dbsize() == 0


def test_incr(client):
    assert client.incr("counter") == 1
    assert client.incr("counter") == 2
    assert client.incrby("counter", 10) == 12
    assert client.decr("counter") == 11
    client.set("text", "abc")
    with pytest.raises(redis.ResponseError, match="not an integer"):
        client.incr("text")


def test_select_zero_only(client):
    assert client.execute_command("SELECT", 0) is True
    with pytest.raises(redis.ResponseError, match="DB index is out of range"):
        client.execute_command("SELECT", 1)


def test_wrongtype(client):
    client.lpush("list", "a")
    with pytest.raises(redis.ResponseError, match=r"^WRONGTYPE"):
        client.get("list")
    with pytest.raises(redis.ResponseError, match=r"^WRONGTYPE"):
        client.sadd("list", "a")


def test_unknown_command_and_arity(client):
    with pytest.raises(redis.ResponseError, match="unknown command 'NOPE'"):
        client.execute_command("NOPE", "x")
    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'get'"):
        client.execute_command("GET")


def test_config_get_answers_like_redis(client):
    assert client.config_get("save") == {"save": ""}
    assert client.config_get("appendonly") == {"appendonly": "no"}
    assert client.config_get("nosuchsetting") == {}


def test_info_has_a_server_section(client):
    info = client.info()
    assert info["wirebench_implementation"]
    assert info["python_version"]
    assert info["connected_clients"] >= 1
    assert set(client.info("server")) >= {"wirebench_implementation", "process_id", "tcp_port"}


def test_info_cpu_reports_the_process_cpu_seconds_as_redis_does(client):
    cpu = client.info("cpu")
    assert set(cpu) >= {"used_cpu_sys", "used_cpu_user"}
    assert cpu["used_cpu_sys"] >= 0 and cpu["used_cpu_user"] > 0


def test_command_answers(client):
    assert not client.execute_command("COMMAND")  # redis-py turns the empty array into {}
    assert client.command_count() > 10


def test_lists_sets_hashes_zsets(client):
    assert client.rpush("l", "a", "b") == 2
    assert client.lpush("l", "z") == 3
    assert client.lrange("l", 0, -1) == [b"z", b"a", b"b"]
    assert client.lpop("l") == b"z"
    assert client.rpop("l") == b"b"
    assert client.llen("l") == 1
    assert client.sadd("s", "a", "b", "a") == 2
    assert client.spop("s") in (b"a", b"b")
    assert client.scard("s") == 1
    assert client.hset("h", mapping={"f": "1", "g": "2"}) == 2
    assert client.hget("h", "f") == b"1"
    assert client.hgetall("h") == {b"f": b"1", b"g": b"2"}
    assert client.zadd("z", {"m": 2, "n": 1}) == 2
    assert client.zpopmin("z") == [(b"n", 1.0)]
    assert client.zcard("z") == 1


def test_pipeline_many_commands(client):
    with client.pipeline(transaction=False) as pipe:
        for i in range(1000):
            pipe.set(f"key:{i}", i)
        for i in range(1000):
            pipe.get(f"key:{i}")
        results = pipe.execute()
    assert results[:1000] == [True] * 1000
    assert results[1000:] == [str(i).encode() for i in range(1000)]


def test_client_setname_getname(client):
    assert client.client_setname("bench") is True
    assert client.client_getname() == "bench"
    assert client.client_id() > 0


def test_hello_speaks_resp2_only(client):
    reply = client.execute_command("HELLO", 2)
    assert reply[reply.index(b"proto") + 1] == 2
    with pytest.raises(redis.ResponseError, match="unsupported protocol version"):
        client.execute_command("HELLO", 3)


def test_quit_closes_the_connection(server):
    with server.connect() as sock:
        sock.sendall(b"*1\r\n$4\r\nQUIT\r\n")
        assert sock.recv(100) == b"+OK\r\n"
        assert sock.recv(100) == b""
