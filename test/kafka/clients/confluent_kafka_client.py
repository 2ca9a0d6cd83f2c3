#!/usr/bin/python3
"""confluent-kafka (Debian's python3-confluent-kafka, librdkafka) driven by the Cairn Kafka tests.

Every command prints one JSON object on its last stdout line; `produce` also prints
`progress <acknowledged>` lines while it works, so the test can fail the leader midway.

  create  BOOTSTRAP TOPIC PARTITIONS
  produce BOOTSTRAP TOPIC PREFIX COUNT COMPRESSION(none|gzip|snappy|lz4|zstd) IDEMPOTENT(true|false)
  consume BOOTSTRAP TOPIC GROUP
"""
import json
import sys
import time

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

BATCH = 50


def create(bootstrap, topic, partitions):
    admin = AdminClient({'bootstrap.servers': bootstrap, 'client.id': 'cairn-test-admin'})
    outcomes = []
    for _ in range(2):
        future = admin.create_topics([NewTopic(topic, num_partitions=int(partitions), replication_factor=3)], request_timeout=15)[topic]
        try:
            future.result(timeout=30)
            outcomes.append('created')
        except Exception as error:  # KafkaException wrapping the KafkaError
            code = error.args[0].code() if error.args and hasattr(error.args[0], 'code') else None
            outcomes.append('already exists' if code == KafkaError.TOPIC_ALREADY_EXISTS else 'error: %s' % error)
    print(json.dumps({'created': outcomes[0] == 'created', 'second': outcomes[1]}))


def produce(bootstrap, topic, prefix, count, compression, idempotent):
    producer = Producer({
        'bootstrap.servers': bootstrap, 'client.id': 'cairn-test-producer', 'acks': 'all', 'linger.ms': 5,
        'enable.idempotence': idempotent == 'true', 'compression.type': compression, 'message.timeout.ms': 60000,
    })
    acked, failed = [], []

    def delivered(error, message):
        if error is None:
            acked.append(message.key().decode())
        else:
            failed.append(str(error))

    count = int(count)
    for start in range(0, count, BATCH):
        for index in range(start, min(count, start + BATCH)):
            key = '%s-%d' % (prefix, index)
            producer.produce(topic, key=key.encode(), value=('value of ' + key).encode(), on_delivery=delivered)
        producer.flush(60)
        print('progress %d' % len(acked), flush=True)
    remaining = producer.flush(60)
    print(json.dumps({'acked': acked, 'failed': len(failed) + remaining, 'errors': failed[:5]}))


def consume(bootstrap, topic, group):
    consumer = Consumer({
        'bootstrap.servers': bootstrap, 'client.id': 'cairn-test-consumer', 'group.id': group, 'enable.auto.commit': False,
        'auto.offset.reset': 'earliest', 'session.timeout.ms': 10000, 'fetch.wait.max.ms': 200, 'enable.partition.eof': True,
    })
    consumer.subscribe([topic])
    deadline = time.time() + 60
    messages = []
    at_end = set()
    complete = False
    while time.time() < deadline:
        message = consumer.poll(0.2)
        if message is not None:
            if message.error() is None:
                messages.append([message.key().decode(), message.value().decode(), message.partition(), message.offset()])
                at_end.discard(message.partition())
            elif message.error().code() == KafkaError._PARTITION_EOF:
                at_end.add(message.partition())
        assignment = consumer.assignment()
        if assignment and all(partition.partition in at_end for partition in assignment):
            complete = True
            break
    if messages:
        consumer.commit(asynchronous=False)
    consumer.close()
    print(json.dumps({'messages': messages, 'complete': complete}))


COMMANDS = {'create': create, 'produce': produce, 'consume': consume}

if __name__ == '__main__':
    COMMANDS[sys.argv[1]](*sys.argv[2:])
