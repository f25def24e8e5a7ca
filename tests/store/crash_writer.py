"""Run by test_crash.py: accept messages through the store forever, printing each id
(and the number in its body) only after its await returned. The test kills it with -9."""
import asyncio
import sys

from smsc.store import NewMessage, Store


async def main(path: str, callers: int) -> None:
    store = await Store.open(path)
    counter = iter(range(10**9))

    async def caller() -> None:
        while True:
            n = next(counter)
            body = {"n": n, "short_message": f"message {n}".encode(), "tlvs": [[0x020C, n % 65536]]}
            message_id = await store.accept(NewMessage("acme", "Shop", f"4477{n:08d}", body))
            sys.stdout.write(f"{message_id} {n}\n")
            sys.stdout.flush()

    await asyncio.gather(*(caller() for _ in range(callers)))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
