#!/usr/bin/python3
"""kafka-python (Debian's python3-kafka) driven by the Cairn Kafka tests.

Run with /usr/bin/python3 (Debian installs the module for the system python only).
Every command prints one JSON object on its last stdout line; `produce` also prints
`progress <acknowledged>` lines while it works, so the test can fail the leader midway.

  create  BOOTSTRAP TOPIC PARTITIONS
  produce BOOTSTRAP TOPIC PREFIX COUNT COMPRESSION(none|gzip)
  consume BOOTSTRAP TOPIC GROUP
"""
import json
import sys
import time

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

BATCH = 50


def create(bootstrap, topic, partitions):
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id='cairn-test-admin', request_timeout_ms=15000)
    try:
        admin.create_topics([NewTopic(name=topic, num_partitions=int(partitions), replication_factor=3)], timeout_ms=10000)
        created = True
    except TopicAlreadyExistsError:
        created = False
    try:
        admin.create_topics([NewTopic(name=topic, num_partitions=int(partitions), replication_factor=3)], timeout_ms=10000)
        second = 'created again'
    except TopicAlreadyExistsError:
        second = 'already exists'
    admin.close()
    print(json.dumps({'created': created, 'second': second}))


def produce(bootstrap, topic, prefix, count, compression):
    producer = KafkaProducer(
        bootstrap_servers=bootstrap, client_id='cairn-test-producer', acks='all', retries=20, retry_backoff_ms=200,
        request_timeout_ms=10000, max_in_flight_requests_per_connection=1, linger_ms=5,
        compression_type=None if compression == 'none' else compression,
    )
    acked, failed = [], 0
    count = int(count)
    for start in range(0, count, BATCH):
        keys = ['%s-%d' % (prefix, index) for index in range(start, min(count, start + BATCH))]
        futures = [(key, producer.send(topic, key=key.encode(), value=('value of ' + key).encode())) for key in keys]
        for key, future in futures:
            try:
                future.get(timeout=60)
                acked.append(key)
            except KafkaError:
                failed += 1
        print('progress %d' % len(acked), flush=True)
    producer.close(timeout=30)
    print(json.dumps({'acked': acked, 'failed': failed}))


def consume(bootstrap, topic, group):
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, client_id='cairn-test-consumer', group_id=group, enable_auto_commit=False,
        auto_offset_reset='earliest', session_timeout_ms=10000, heartbeat_interval_ms=1000, fetch_max_wait_ms=200,
    )
    consumer.subscribe([topic])
    deadline = time.time() + 60
    messages = []
    ends = None
    complete = False
    while time.time() < deadline:
        for records in consumer.poll(timeout_ms=200).values():
            for record in records:
                messages.append([record.key.decode(), record.value.decode(), record.partition, record.offset])
        assignment = consumer.assignment()
        if not assignment:
            continue
        if ends is None:
            ends = consumer.end_offsets(list(assignment))
        if all(consumer.position(partition) >= ends.get(partition, 0) for partition in assignment):
            complete = True
            break
    consumer.commit()
    consumer.close()
    print(json.dumps({'messages': messages, 'complete': complete}))


COMMANDS = {'create': create, 'produce': produce, 'consume': consume}

if __name__ == '__main__':
    COMMANDS[sys.argv[1]](*sys.argv[2:])
